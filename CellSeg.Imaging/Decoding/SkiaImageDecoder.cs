using System.Buffers;
using System.Runtime.InteropServices;
using SkiaSharp;

namespace CellSeg.Imaging.Decoding;

/// <summary>PNG, JPEG and BMP through Skia's codecs.</summary>
internal static class SkiaImageDecoder
{
    public static DecodedImage Decode(ReadOnlySpan<byte> data, ImageInfo header, ImageDecodeOptions options)
    {
        using var encoded = SKData.CreateCopy(data);
        using var codec = SKCodec.Create(encoded)
            ?? throw new ImageDecodeException(ImageDecodeError.Corrupt, $"The {Name(header)} data could not be parsed by the decoder.");

        var width = codec.Info.Width;
        var height = codec.Info.Height;
        if (width != header.Width || height != header.Height)
        {
            throw new ImageDecodeException(
                ImageDecodeError.Corrupt,
                $"The {Name(header)} header says {header.Width} × {header.Height} but the decoder found {width} × {height}.");
        }

        // Skia only widens 16-bit PNGs to half floats; that keeps about 11 significant bits, finer than the
        // 12-bit data microscopes write, and the samples then go through the same percentile stretch as 16-bit TIFF.
        return header.BitsPerChannel == 16
            ? DecodeHalfFloat(codec, header, options)
            : DecodeEightBit(codec, header);
    }

    private static DecodedImage DecodeEightBit(SKCodec codec, ImageInfo header)
    {
        var width = header.Width;
        var height = header.Height;

        // A null colour space asks Skia for the stored values, without colour management.
        // Both buffers are pooled: at serving rates, a large-object-heap allocation per image made the GC the
        // service's biggest cost after the network itself.
        var target = new SKImageInfo(width, height, SKColorType.Rgba8888, SKAlphaType.Unpremul, null);
        var length = checked(width * height * 4);
        var rgba = ArrayPool<byte>.Shared.Rent(length);
        var image = DecodedImage.RentPooled(width, height);
        try
        {
            GetPixels(codec, target, rgba.AsSpan(0, length), header);
            var rgb = image.Samples;
            const float toUnit = 1f / byte.MaxValue;
            for (int pixel = 0, source = 0, destination = 0; pixel < width * height; pixel++, source += 4, destination += 3)
            {
                rgb[destination] = rgba[source] * toUnit;
                rgb[destination + 1] = rgba[source + 1] * toUnit;
                rgb[destination + 2] = rgba[source + 2] * toUnit;
            }
        }
        catch
        {
            image.Dispose();
            throw;
        }
        finally
        {
            ArrayPool<byte>.Shared.Return(rgba);
        }

        return image;
    }

    private static DecodedImage DecodeHalfFloat(SKCodec codec, ImageInfo header, ImageDecodeOptions options)
    {
        var width = header.Width;
        var height = header.Height;
        var target = new SKImageInfo(width, height, SKColorType.RgbaF16, SKAlphaType.Unpremul, null);
        var rgba = GC.AllocateUninitializedArray<Half>(checked(width * height * 4));
        GetPixels(codec, target, MemoryMarshal.AsBytes(rgba.AsSpan()), header);

        var samples = GC.AllocateUninitializedArray<ushort>(width * height * 3);
        for (int pixel = 0, source = 0, destination = 0; pixel < width * height; pixel++, source += 4, destination += 3)
        {
            for (var channel = 0; channel < 3; channel++)
            {
                var unit = Math.Clamp((float)rgba[source + channel], 0f, 1f);
                samples[destination + channel] = (ushort)MathF.Round(unit * ushort.MaxValue);
            }
        }

        return new DecodedImage(width, height, IntensityStretch.ToRgb(samples, 3, options));
    }

    private static unsafe void GetPixels(SKCodec codec, SKImageInfo target, Span<byte> pixels, ImageInfo header)
    {
        SKCodecResult result;
        fixed (byte* address = pixels)
        {
            result = codec.GetPixels(target, (IntPtr)address);
        }

        switch (result)
        {
            case SKCodecResult.Success:
                return;
            case SKCodecResult.IncompleteInput:
                throw new ImageDecodeException(
                    ImageDecodeError.Truncated,
                    $"The {Name(header)} image data ends early; the file was probably cut off during upload.");
            case SKCodecResult.InvalidConversion:
                throw new ImageDecodeException(
                    ImageDecodeError.UnsupportedFormat,
                    $"This {Name(header)} variant ({header.Channels} channels, {header.BitsPerChannel} bits) cannot be converted to RGB.");
            case SKCodecResult.Unimplemented:
                throw new ImageDecodeException(
                    ImageDecodeError.UnsupportedFormat,
                    $"This {Name(header)} variant ({header.Channels} channels, {header.BitsPerChannel} bits) is not supported by the decoder.");
            default:
                throw new ImageDecodeException(ImageDecodeError.Corrupt, $"The {Name(header)} image data is corrupt ({result}).");
        }
    }

    private static string Name(ImageInfo header) => header.Format.ToString().ToUpperInvariant();
}
