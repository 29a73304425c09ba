using System.Buffers.Binary;
using BitMiracle.LibTiff.Classic;
using SkiaSharp;

namespace CellSeg.FunctionalTests;

/// <summary>Files a lab might upload, good and bad, built in the test rather than kept as binaries.</summary>
internal static class UploadFiles
{
    /// <summary>A PNG of random RGB noise, which PNG cannot compress: about width × height × 3 bytes.</summary>
    public static byte[] NoisePng(int width, int height, int seed)
    {
        var random = new Random(seed);
        using var bitmap = new SKBitmap(width, height, SKColorType.Rgba8888, SKAlphaType.Opaque);
        var pixels = new byte[width * height * 4];
        random.NextBytes(pixels);
        for (var alpha = 3; alpha < pixels.Length; alpha += 4)
        {
            pixels[alpha] = 255;
        }

        System.Runtime.InteropServices.Marshal.Copy(pixels, 0, bitmap.GetPixels(), pixels.Length);
        using var data = bitmap.Encode(SKEncodedImageFormat.Png, 100);
        return data.ToArray();
    }

    /// <summary>Only a PNG signature and an IHDR chunk declaring these dimensions, then IEND: no pixels at all.</summary>
    public static byte[] PngHeaderClaiming(uint width, uint height)
    {
        var file = new byte[8 + 25 + 12];
        ReadOnlySpan<byte> signature = [0x89, 0x50, 0x4E, 0x47, 0x0D, 0x0A, 0x1A, 0x0A];
        signature.CopyTo(file);
        BinaryPrimitives.WriteUInt32BigEndian(file.AsSpan(8), 13);
        "IHDR"u8.CopyTo(file.AsSpan(12));
        BinaryPrimitives.WriteUInt32BigEndian(file.AsSpan(16), width);
        BinaryPrimitives.WriteUInt32BigEndian(file.AsSpan(20), height);
        file[24] = 8;
        file[25] = 2;
        "IEND"u8.CopyTo(file.AsSpan(8 + 25 + 4));
        return file;
    }

    /// <summary>
    /// A 16-bit greyscale TIFF as microscopes write them. LibTiff writes the directory after the pixels, so a copy
    /// cut in half has lost its directory.
    /// </summary>
    public static byte[] Grey16Tiff(int width, int height)
    {
        using var stream = new MemoryStream();
        using (var tiff = Tiff.ClientOpen("microscope.tif", "w", stream, new TiffStream())
            ?? throw new InvalidOperationException("LibTiff cannot write to memory."))
        {
            tiff.SetField(TiffTag.IMAGEWIDTH, width);
            tiff.SetField(TiffTag.IMAGELENGTH, height);
            tiff.SetField(TiffTag.BITSPERSAMPLE, 16);
            tiff.SetField(TiffTag.SAMPLESPERPIXEL, 1);
            tiff.SetField(TiffTag.PHOTOMETRIC, Photometric.MINISBLACK);
            tiff.SetField(TiffTag.PLANARCONFIG, PlanarConfig.CONTIG);
            tiff.SetField(TiffTag.COMPRESSION, Compression.NONE);
            tiff.SetField(TiffTag.ROWSPERSTRIP, height);
            var row = new byte[width * 2];
            for (var y = 0; y < height; y++)
            {
                for (var x = 0; x < width; x++)
                {
                    BinaryPrimitives.WriteUInt16LittleEndian(row.AsSpan(x * 2), (ushort)((x + y) * 100));
                }

                tiff.WriteScanline(row, y);
            }
        }

        return stream.ToArray();
    }
}
