namespace CellSeg.Imaging.Decoding;

/// <summary>Limits and intensity scaling for decoding.</summary>
public sealed record ImageDecodeOptions
{
    public static ImageDecodeOptions Default { get; } = new();

    /// <summary>Largest accepted width × height; checked from the header before any pixel memory is allocated.</summary>
    public long MaxPixels { get; init; } = 100_000_000;

    /// <summary>Largest accepted file size in bytes.</summary>
    public long MaxBytes { get; init; } = 512L * 1024 * 1024;

    /// <summary>
    /// Percentile (0–100) of all 16-bit samples that maps to 0. Microscopes write 12-bit (or fewer) data into
    /// 16-bit containers, so dividing by 65535 would leave images nearly black; the image is stretched between
    /// two percentiles of its own histogram instead. 0 and 100 give a plain min–max stretch.
    /// </summary>
    public double HighBitDepthLowPercentile { get; init; } = 0.1;

    /// <summary>Percentile (0–100) of all 16-bit samples that maps to 1; see <see cref="HighBitDepthLowPercentile"/>.</summary>
    public double HighBitDepthHighPercentile { get; init; } = 99.9;
}
