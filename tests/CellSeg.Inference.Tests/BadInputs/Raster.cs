using System.Runtime.InteropServices;
using SkiaSharp;

namespace CellSeg.Inference.Tests.BadInputs;

/// <summary>
/// 8-bit RGB pixels, row-major, to be written into whichever container a test needs; the same spheroid in every
/// format lets a test expect the same single object whatever the file looks like.
/// </summary>
internal sealed class Raster
{
    private Raster(int width, int height, byte[] rgb)
    {
        Width = width;
        Height = height;
        Rgb = rgb;
    }

    public int Width { get; }

    public int Height { get; }

    /// <summary>Three samples per pixel: R, G, B.</summary>
    public byte[] Rgb { get; }

    public static Raster Load(string path)
    {
        using var codec = SKCodec.Create(path) ?? throw new InvalidOperationException($"Skia cannot read {path}.");
        var info = new SKImageInfo(codec.Info.Width, codec.Info.Height, SKColorType.Rgba8888, SKAlphaType.Unpremul);
        var rgba = new byte[info.BytesSize];
        var handle = GCHandle.Alloc(rgba, GCHandleType.Pinned);
        try
        {
            var result = codec.GetPixels(info, handle.AddrOfPinnedObject());
            if (result != SKCodecResult.Success)
            {
                throw new InvalidOperationException($"Skia read {path} with {result}.");
            }
        }
        finally
        {
            handle.Free();
        }

        var rgb = new byte[info.Width * info.Height * 3];
        for (int pixel = 0, source = 0; pixel < info.Width * info.Height; pixel++, source += 4)
        {
            rgb[3 * pixel] = rgba[source];
            rgb[(3 * pixel) + 1] = rgba[source + 1];
            rgb[(3 * pixel) + 2] = rgba[source + 2];
        }

        return new Raster(info.Width, info.Height, rgb);
    }

    public static Raster Flat(int width, int height, byte level) =>
        new(width, height, Enumerable.Repeat(level, width * height * 3).ToArray());

    /// <summary>One grey sample per pixel, the mean of the three channels.</summary>
    public byte[] Grey()
    {
        var grey = new byte[Width * Height];
        for (var i = 0; i < grey.Length; i++)
        {
            grey[i] = (byte)((Rgb[3 * i] + Rgb[(3 * i) + 1] + Rgb[(3 * i) + 2] + 1) / 3);
        }

        return grey;
    }

    /// <summary>The grey samples as 12-bit microscope data in a 16-bit container: level × 16 + 100.</summary>
    public ushort[] Grey12Bit() => [.. Grey().Select(level => (ushort)((level * 16) + 100))];
}
