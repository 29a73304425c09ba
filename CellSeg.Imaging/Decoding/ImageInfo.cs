namespace CellSeg.Imaging.Decoding;

/// <summary>
/// What a file's header says about its pixels, read without decoding them.
/// <see cref="Channels"/> counts stored samples per pixel (palette images count as 3, the colours they expand to).
/// </summary>
public sealed record ImageInfo(ImageFormat Format, int Width, int Height, int BitsPerChannel, int Channels)
{
    public long PixelCount => (long)Width * Height;
}
