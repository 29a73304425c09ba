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

    private static byte[] Resize(string file, int side)
    {
        using var original = SKBitmap.Decode(file);
        using var resized = original.Resize(new SKImageInfo(side, side, SKColorType.Rgba8888), new SKSamplingOptions(SKFilterMode.Linear));
        using var image = SKImage.FromBitmap(resized);
        using var png = image.Encode(SKEncodedImageFormat.Png, 100);
        return png.ToArray();
    }
}
