using CellSeg.Imaging.Decoding;
using SkiaSharp;

namespace CellSeg.Api.Images;

/// <summary>Small PNG previews of uploaded images, decoded the way Inference decodes them (16-bit data stretched).</summary>
public static class Thumbnail
{
    public const int DefaultSize = 256;
    public const int MaxSize = 512;

    /// <summary>
    /// A PNG whose longer side is <paramref name="size"/> pixels (never larger than the image), keeping the aspect
    /// ratio. Each thumbnail pixel is the mean of the image pixels it covers, so thin structures do not alias away.
    /// </summary>
    /// <exception cref="ImageDecodeException">When the bytes are not a decodable image.</exception>
    public static byte[] Render(ReadOnlySpan<byte> data, int size, ImageDecodeOptions options)
    {
        // The decoded samples may live in a pooled array: give it back once the thumbnail is rendered.
        using var image = ImageDecoder.Decode(data, options);
        var (width, height) = (image.Width, image.Height);
        var scale = Math.Min(1.0, (double)size / Math.Max(width, height));
        var targetWidth = Math.Max(1, (int)Math.Round(width * scale));
        var targetHeight = Math.Max(1, (int)Math.Round(height * scale));

        var rgb = image.Rgb;
        var rgba = new byte[targetWidth * targetHeight * 4];
        for (var ty = 0; ty < targetHeight; ty++)
        {
            var y0 = (int)((long)ty * height / targetHeight);
            var y1 = Math.Max(y0 + 1, (int)((long)(ty + 1) * height / targetHeight));
            for (var tx = 0; tx < targetWidth; tx++)
            {
                var x0 = (int)((long)tx * width / targetWidth);
                var x1 = Math.Max(x0 + 1, (int)((long)(tx + 1) * width / targetWidth));
                double r = 0, g = 0, b = 0;
                for (var y = y0; y < y1; y++)
                {
                    var row = ((y * width) + x0) * 3;
                    for (var x = x0; x < x1; x++, row += 3)
                    {
                        r += rgb[row];
                        g += rgb[row + 1];
                        b += rgb[row + 2];
                    }
                }

                var n = (double)(y1 - y0) * (x1 - x0);
                var target = ((ty * targetWidth) + tx) * 4;
                rgba[target] = ToByte(r / n);
                rgba[target + 1] = ToByte(g / n);
                rgba[target + 2] = ToByte(b / n);
                rgba[target + 3] = 255;
            }
        }

        var info = new SKImageInfo(targetWidth, targetHeight, SKColorType.Rgba8888, SKAlphaType.Opaque);
        using var thumbnail = SKImage.FromPixelCopy(info, rgba);
        using var png = thumbnail.Encode(SKEncodedImageFormat.Png, 100);
        return png.ToArray();
    }

    private static byte ToByte(double value) => (byte)Math.Clamp(Math.Round(value * 255), 0, 255);
}
