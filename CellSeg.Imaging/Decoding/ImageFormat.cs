namespace CellSeg.Imaging.Decoding;

/// <summary>Container formats the decoder accepts, recognised by their magic bytes.</summary>
public enum ImageFormat
{
    Png,
    Jpeg,
    Bmp,
    Tiff,
}
