using System.Buffers.Binary;
using System.IO.Compression;
using System.Text;

namespace CellSeg.Inference.Tests.BadInputs;

/// <summary>
/// PNG files written chunk by chunk: the colour types Skia does not encode (palette, 16-bit grey) and files that
/// can be cut or damaged at a known chunk. Every file has one IDAT chunk, so "half the IDAT" is well defined.
/// </summary>
internal static class PngFile
{
    public const byte Grey = 0;
    public const byte Truecolour = 2;
    public const byte Indexed = 3;
    public const byte TruecolourWithAlpha = 6;

    public static ReadOnlySpan<byte> Signature => [0x89, 0x50, 0x4E, 0x47, 0x0D, 0x0A, 0x1A, 0x0A];

    public static byte[] Grey8(Raster image) =>
        Write(image.Width, image.Height, 8, Grey, image.Grey(), samplesPerRow: image.Width);

    /// <summary>16-bit grey, big-endian as PNG stores it, from <see cref="Raster.Grey12Bit"/>.</summary>
    public static byte[] Grey16(Raster image)
    {
        var samples = image.Grey12Bit();
        var bytes = new byte[samples.Length * 2];
        for (var i = 0; i < samples.Length; i++)
        {
            BinaryPrimitives.WriteUInt16BigEndian(bytes.AsSpan(2 * i), samples[i]);
        }

        return Write(image.Width, image.Height, 16, Grey, bytes, samplesPerRow: image.Width * 2);
    }

    public static byte[] Rgb8(Raster image) =>
        Write(image.Width, image.Height, 8, Truecolour, image.Rgb, samplesPerRow: image.Width * 3);

    /// <summary>RGBA with one alpha for every pixel; the decoder drops alpha without compositing.</summary>
    public static byte[] Rgba8(Raster image, byte alpha)
    {
        var rgba = new byte[image.Width * image.Height * 4];
        for (var i = 0; i < image.Width * image.Height; i++)
        {
            image.Rgb.AsSpan(3 * i, 3).CopyTo(rgba.AsSpan(4 * i));
            rgba[(4 * i) + 3] = alpha;
        }

        return Write(image.Width, image.Height, 8, TruecolourWithAlpha, rgba, samplesPerRow: image.Width * 4);
    }

    /// <summary>8-bit indices into a palette of the 256 greys: each pixel's index is its grey level.</summary>
    public static byte[] PaletteOfGreys(Raster image)
    {
        var palette = new byte[256 * 3];
        for (var level = 0; level < 256; level++)
        {
            palette[3 * level] = palette[(3 * level) + 1] = palette[(3 * level) + 2] = (byte)level;
        }

        return Write(image.Width, image.Height, 8, Indexed, image.Grey(), samplesPerRow: image.Width, palette);
    }

    /// <summary>The signature and an IHDR chunk with a valid CRC, declaring any size; nothing follows.</summary>
    public static byte[] HeaderOnly(uint width, uint height, byte bitDepth = 8, byte colourType = Truecolour) =>
        [.. Signature, .. Chunk("IHDR", Header(width, height, bitDepth, colourType))];

    /// <summary>Where the chunk of <paramref name="type"/> starts (its length field) in <paramref name="png"/>.</summary>
    public static int FindChunk(byte[] png, string type)
    {
        for (var position = Signature.Length; position + 8 <= png.Length;)
        {
            var length = (int)BinaryPrimitives.ReadUInt32BigEndian(png.AsSpan(position));
            if (png.AsSpan(position + 4, 4).SequenceEqual(Encoding.ASCII.GetBytes(type)))
            {
                return position;
            }

            position += 12 + length;
        }

        throw new InvalidOperationException($"The PNG has no {type} chunk.");
    }

    /// <summary>The length of the data of the chunk that starts at <paramref name="chunk"/>.</summary>
    public static int ChunkDataLength(byte[] png, int chunk) => (int)BinaryPrimitives.ReadUInt32BigEndian(png.AsSpan(chunk));

    public static byte[] Chunk(string type, ReadOnlySpan<byte> data)
    {
        var chunk = new byte[12 + data.Length];
        BinaryPrimitives.WriteUInt32BigEndian(chunk, (uint)data.Length);
        Encoding.ASCII.GetBytes(type).CopyTo(chunk, 4);
        data.CopyTo(chunk.AsSpan(8));
        BinaryPrimitives.WriteUInt32BigEndian(chunk.AsSpan(8 + data.Length), Crc32.Of(chunk.AsSpan(4, 4 + data.Length)));
        return chunk;
    }

    private static byte[] Header(uint width, uint height, byte bitDepth, byte colourType)
    {
        var header = new byte[13];
        BinaryPrimitives.WriteUInt32BigEndian(header, width);
        BinaryPrimitives.WriteUInt32BigEndian(header.AsSpan(4), height);
        header[8] = bitDepth;
        header[9] = colourType;
        return header;
    }

    private static byte[] Write(int width, int height, byte bitDepth, byte colourType, byte[] samples, int samplesPerRow, byte[]? palette = null)
    {
        using var compressed = new MemoryStream();
        using (var zlib = new ZLibStream(compressed, CompressionLevel.Optimal))
        {
            for (var row = 0; row < height; row++)
            {
                // Filter type 0 (none) before each row.
                zlib.WriteByte(0);
                zlib.Write(samples, row * samplesPerRow, samplesPerRow);
            }
        }

        using var file = new MemoryStream();
        file.Write(Signature);
        file.Write(Chunk("IHDR", Header((uint)width, (uint)height, bitDepth, colourType)));
        if (palette is not null)
        {
            file.Write(Chunk("PLTE", palette));
        }

        file.Write(Chunk("IDAT", compressed.ToArray()));
        file.Write(Chunk("IEND", []));
        return file.ToArray();
    }

    /// <summary>The CRC-32 of ISO 3309 that PNG chunks end with.</summary>
    private static class Crc32
    {
        private static readonly uint[] s_table = BuildTable();

        public static uint Of(ReadOnlySpan<byte> data)
        {
            var crc = 0xFFFFFFFFu;
            foreach (var value in data)
            {
                crc = s_table[(crc ^ value) & 0xFF] ^ (crc >> 8);
            }

            return crc ^ 0xFFFFFFFFu;
        }

        private static uint[] BuildTable()
        {
            var table = new uint[256];
            for (var n = 0u; n < 256; n++)
            {
                var c = n;
                for (var k = 0; k < 8; k++)
                {
                    c = (c & 1) != 0 ? 0xEDB88320u ^ (c >> 1) : c >> 1;
                }

                table[n] = c;
            }

            return table;
        }
    }
}
