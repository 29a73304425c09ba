using System.Buffers.Binary;

namespace CellSeg.Inference.Tests.BadInputs;

/// <summary>Uncompressed BMP files written by hand: Skia decodes BMP but has no BMP encoder.</summary>
internal static class BmpFile
{
    private const int HeadersLength = 14 + 40;

    /// <summary>A 24-bit bottom-up BMP, rows padded to four bytes.</summary>
    public static byte[] Rgb24(Raster image)
    {
        var rowBytes = ((image.Width * 3) + 3) & ~3;
        var file = new byte[HeadersLength + (rowBytes * image.Height)];
        WriteHeaders(file, image.Width, image.Height, 24, rowBytes * image.Height);
        for (var y = 0; y < image.Height; y++)
        {
            var row = HeadersLength + ((image.Height - 1 - y) * rowBytes);
            for (var x = 0; x < image.Width; x++)
            {
                var source = 3 * ((y * image.Width) + x);
                file[row + (3 * x)] = image.Rgb[source + 2];
                file[row + (3 * x) + 1] = image.Rgb[source + 1];
                file[row + (3 * x) + 2] = image.Rgb[source];
            }
        }

        return file;
    }

    /// <summary>The file and information headers declaring any size and bit count, and no pixels.</summary>
    public static byte[] HeadersOnly(int width, int height, short bitCount = 24)
    {
        var file = new byte[HeadersLength];
        WriteHeaders(file, width, height, bitCount, imageBytes: 0);
        return file;
    }

    private static void WriteHeaders(Span<byte> file, int width, int height, short bitCount, int imageBytes)
    {
        file[0] = (byte)'B';
        file[1] = (byte)'M';
        BinaryPrimitives.WriteInt32LittleEndian(file[2..], HeadersLength + imageBytes);
        BinaryPrimitives.WriteInt32LittleEndian(file[10..], HeadersLength);
        BinaryPrimitives.WriteInt32LittleEndian(file[14..], 40);
        BinaryPrimitives.WriteInt32LittleEndian(file[18..], width);
        BinaryPrimitives.WriteInt32LittleEndian(file[22..], height);
        BinaryPrimitives.WriteInt16LittleEndian(file[26..], 1);
        BinaryPrimitives.WriteInt16LittleEndian(file[28..], bitCount);
        BinaryPrimitives.WriteInt32LittleEndian(file[34..], imageBytes);
    }
}
