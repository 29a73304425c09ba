using CellSeg.Imaging.Decoding;
using CellSeg.LoadGen.Topology;
using SkiaSharp;

namespace CellSeg.LoadGen;

/// <summary>The bundled demo images, as the demo, the load scenarios and the tests send them.</summary>
public static class DemoImageSet
{
    /// <summary>
    /// Every PNG under <c>demo/images</c>, in name order; with <paramref name="size"/>, each resized to that square
    /// (re-encoded as PNG) so that a run measures serving rather than decoding large files.
    /// </summary>
    public static List<(string FileName, byte[] Bytes)> Load(int? size = null)
    {
        var files = Directory.GetFiles(RepositoryLayout.DemoImages, "*.png").Order(StringComparer.Ordinal);
        return [.. files.Select(file => (Path.GetFileName(file), size is { } side ? Resize(file, side) : File.ReadAllBytes(file)))];
    }

    /// <summary>
    /// Keeps the file's kind of pixel: a grey image stays one 8-bit channel and a colour one stays opaque RGB, so a
    /// decoder inflates what a microscope's file of that size would hold (an RGBA copy of a grey image is four times
    /// the data). Skia writes no 16-bit grey PNG: the 16-bit image becomes 8-bit grey here.
    /// </summary>
    private static byte[] Resize(string file, int side)
    {
        var header = ImageHeaderReader.Read(File.ReadAllBytes(file));
        using var original = SKBitmap.Decode(file);
        var target = header.Channels == 1
            ? new SKImageInfo(side, side, SKColorType.Gray8, SKAlphaType.Opaque)
            : new SKImageInfo(side, side, SKColorType.Rgb888x, SKAlphaType.Opaque);
        using var resized = original.Resize(target, new SKSamplingOptions(SKFilterMode.Linear));
        using var image = SKImage.FromBitmap(resized);
        using var png = image.Encode(SKEncodedImageFormat.Png, 100);
        return png.ToArray();
    }
}
