namespace CellSeg.Imaging.Decoding;

/// <summary>
/// Decoded pixels as float RGB in [0, 1], interleaved and row-major: the sample of channel c (0 = R, 1 = G, 2 = B)
/// at column x and row y is <c>Rgb[((y * Width) + x) * 3 + c]</c>, row 0 at the top. Grey images carry the same
/// value in all three channels; alpha is dropped without compositing.
/// </summary>
public sealed class DecodedImage
{
    private readonly float[] _rgb;

    public DecodedImage(int width, int height, float[] rgb)
    {
        ArgumentOutOfRangeException.ThrowIfNegativeOrZero(width);
        ArgumentOutOfRangeException.ThrowIfNegativeOrZero(height);
        ArgumentNullException.ThrowIfNull(rgb);
        if (rgb.LongLength != (long)width * height * 3)
        {
            throw new ArgumentException($"Expected {(long)width * height * 3} samples for {width} × {height} RGB, got {rgb.LongLength}.", nameof(rgb));
        }

        Width = width;
        Height = height;
        _rgb = rgb;
    }

    public int Width { get; }

    public int Height { get; }

    public ReadOnlySpan<float> Rgb => _rgb;

    /// <summary>One sample; for tests and diagnostics, not for loops over the image.</summary>
    public float this[int x, int y, int channel] => _rgb[(((y * Width) + x) * 3) + channel];
}
