namespace CellSeg.Imaging.Decoding;

/// <summary>
/// Recognises a file by its leading magic bytes. The file name is never consulted: uploads are named by
/// people, and a ".tif" that is really a PNG must still decode.
/// </summary>
public static class ImageFormatDetector
{
    private static ReadOnlySpan<byte> PngSignature => [0x89, 0x50, 0x4E, 0x47, 0x0D, 0x0A, 0x1A, 0x0A];
    private static ReadOnlySpan<byte> JpegSignature => [0xFF, 0xD8, 0xFF];
    private static ReadOnlySpan<byte> BmpSignature => [0x42, 0x4D];
    private static ReadOnlySpan<byte> TiffLittleEndian => [0x49, 0x49, 0x2A, 0x00];
    private static ReadOnlySpan<byte> TiffBigEndian => [0x4D, 0x4D, 0x00, 0x2A];
    private static ReadOnlySpan<byte> BigTiffLittleEndian => [0x49, 0x49, 0x2B, 0x00];
    private static ReadOnlySpan<byte> BigTiffBigEndian => [0x4D, 0x4D, 0x00, 0x2B];

    /// <summary>The format whose signature starts <paramref name="data"/>, or null when none does.</summary>
    public static ImageFormat? Detect(ReadOnlySpan<byte> data)
    {
        if (data.StartsWith(PngSignature))
        {
            return ImageFormat.Png;
        }

        if (data.StartsWith(JpegSignature))
        {
            return ImageFormat.Jpeg;
        }

        if (data.StartsWith(TiffLittleEndian) || data.StartsWith(TiffBigEndian)
            || data.StartsWith(BigTiffLittleEndian) || data.StartsWith(BigTiffBigEndian))
        {
            return ImageFormat.Tiff;
        }

        // "BM" alone is weak evidence, so BMP is tested last and only with room for its two headers.
        return data.Length >= 18 && data.StartsWith(BmpSignature) ? ImageFormat.Bmp : null;
    }

    /// <summary>
    /// True when <paramref name="data"/> is shorter than a signature and matches its beginning: the upload was
    /// cut off rather than being of an unknown kind.
    /// </summary>
    internal static bool IsSignaturePrefix(ReadOnlySpan<byte> data) =>
        data.Length > 0
        && (IsProperPrefix(data, PngSignature) || IsProperPrefix(data, JpegSignature)
            || IsProperPrefix(data, TiffLittleEndian) || IsProperPrefix(data, TiffBigEndian)
            || IsProperPrefix(data, BigTiffLittleEndian) || IsProperPrefix(data, BigTiffBigEndian)
            || (data.Length < 18 && data.StartsWith(BmpSignature)));

    private static bool IsProperPrefix(ReadOnlySpan<byte> data, ReadOnlySpan<byte> signature) =>
        data.Length < signature.Length && signature.StartsWith(data);
}
