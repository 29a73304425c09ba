using System.Buffers.Binary;
using BitMiracle.LibTiff.Classic;

namespace CellSeg.Inference.Tests.BadInputs;

/// <summary>
/// TIFF files: real grey pages through LibTiff, hand-written directories that declare whatever a test needs, and
/// patches that make a real file's offsets or byte counts lie about what follows.
/// </summary>
internal static class TiffFile
{
    private const ushort ShortType = 3;
    private const ushort LongType = 4;
    private const ushort StripOffsetsTag = 273;
    private const ushort StripByteCountsTag = 279;

    /// <summary>One grey page: <paramref name="Samples"/> holds its rows, each sample little-endian when wider than a byte.</summary>
    public sealed record GreyPage(int Width, int Height, int BitsPerSample, SampleFormat Format, byte[] Samples);

    public static GreyPage Grey8(Raster image) => new(image.Width, image.Height, 8, SampleFormat.UINT, image.Grey());

    public static GreyPage Grey16(Raster image)
    {
        var samples = image.Grey12Bit();
        var bytes = new byte[samples.Length * 2];
        for (var i = 0; i < samples.Length; i++)
        {
            BinaryPrimitives.WriteUInt16LittleEndian(bytes.AsSpan(2 * i), samples[i]);
        }

        return new GreyPage(image.Width, image.Height, 16, SampleFormat.UINT, bytes);
    }

    public static GreyPage Float32(int width, int height, float value)
    {
        var bytes = new byte[width * height * 4];
        for (var i = 0; i < width * height; i++)
        {
            BinaryPrimitives.WriteSingleLittleEndian(bytes.AsSpan(4 * i), value);
        }

        return new GreyPage(width, height, 32, SampleFormat.IEEEFP, bytes);
    }

    /// <summary>A classic little-endian TIFF with one page per <paramref name="pages"/>, each a single uncompressed strip.</summary>
    public static byte[] Write(params GreyPage[] pages) => Write(Compression.NONE, pages);

    /// <summary>A classic little-endian TIFF with one page per <paramref name="pages"/>, each a single strip.</summary>
    public static byte[] Write(Compression compression, params GreyPage[] pages)
    {
        using var stream = new MemoryStream();
        using (var tiff = Tiff.ClientOpen("bad-input", "wl", stream, new TiffStream())
            ?? throw new InvalidOperationException("LibTiff cannot write to memory."))
        {
            for (var index = 0; index < pages.Length; index++)
            {
                var page = pages[index];
                tiff.SetField(TiffTag.IMAGEWIDTH, page.Width);
                tiff.SetField(TiffTag.IMAGELENGTH, page.Height);
                tiff.SetField(TiffTag.BITSPERSAMPLE, page.BitsPerSample);
                tiff.SetField(TiffTag.SAMPLESPERPIXEL, 1);
                tiff.SetField(TiffTag.SAMPLEFORMAT, page.Format);
                tiff.SetField(TiffTag.PHOTOMETRIC, Photometric.MINISBLACK);
                tiff.SetField(TiffTag.PLANARCONFIG, PlanarConfig.CONTIG);
                tiff.SetField(TiffTag.COMPRESSION, compression);
                tiff.SetField(TiffTag.ROWSPERSTRIP, page.Height);
                if (pages.Length > 1)
                {
                    tiff.SetField(TiffTag.SUBFILETYPE, FileType.PAGE);
                    tiff.SetField(TiffTag.PAGENUMBER, index, pages.Length);
                }

                if (tiff.WriteEncodedStrip(0, page.Samples, page.Samples.Length) < 0)
                {
                    throw new InvalidOperationException("LibTiff could not write the strip.");
                }

                tiff.WriteDirectory();
            }
        }

        return stream.ToArray();
    }

    /// <summary>
    /// The 8-byte header and a first directory with ImageWidth, ImageLength, BitsPerSample, Photometric (grey) and
    /// SamplesPerPixel, and nothing else: no strips, no pixels. A null size leaves its tag out.
    /// </summary>
    public static byte[] DirectoryOnly(uint? width, uint? height, ushort bitsPerSample = 8)
    {
        var entries = new List<(ushort Tag, ushort Type, uint Value)>();
        if (width is { } w)
        {
            entries.Add((256, LongType, w));
        }

        if (height is { } h)
        {
            entries.Add((257, LongType, h));
        }

        entries.Add((258, ShortType, bitsPerSample));
        entries.Add((262, ShortType, 1));
        entries.Add((277, ShortType, 1));

        var file = new byte[8 + 2 + (12 * entries.Count) + 4];
        WriteHeader(file, firstDirectory: 8);
        BinaryPrimitives.WriteUInt16LittleEndian(file.AsSpan(8), (ushort)entries.Count);
        for (var i = 0; i < entries.Count; i++)
        {
            var entry = file.AsSpan(10 + (12 * i));
            BinaryPrimitives.WriteUInt16LittleEndian(entry, entries[i].Tag);
            BinaryPrimitives.WriteUInt16LittleEndian(entry[2..], entries[i].Type);
            BinaryPrimitives.WriteUInt32LittleEndian(entry[4..], 1);
            if (entries[i].Type == ShortType)
            {
                BinaryPrimitives.WriteUInt16LittleEndian(entry[8..], (ushort)entries[i].Value);
            }
            else
            {
                BinaryPrimitives.WriteUInt32LittleEndian(entry[8..], entries[i].Value);
            }
        }

        return file;
    }

    /// <summary>Only the 8-byte header, whose first-directory offset is <paramref name="firstDirectory"/>.</summary>
    public static byte[] HeaderOnly(uint firstDirectory)
    {
        var file = new byte[8];
        WriteHeader(file, firstDirectory);
        return file;
    }

    /// <summary>A copy of a classic little-endian TIFF whose header points its first directory at <paramref name="offset"/>.</summary>
    public static byte[] WithFirstDirectoryAt(byte[] tiff, uint offset)
    {
        var copy = tiff.ToArray();
        BinaryPrimitives.WriteUInt32LittleEndian(copy.AsSpan(4), offset);
        return copy;
    }

    /// <summary>A copy of a classic little-endian TIFF whose first page's strip starts at <paramref name="offset"/>.</summary>
    public static byte[] WithStripAt(byte[] tiff, uint offset) => WithFirstValue(tiff, StripOffsetsTag, offset);

    /// <summary>A little-endian BigTIFF header (64-bit offsets) pointing its first directory at <paramref name="firstDirectory"/>, then 16 zero bytes.</summary>
    public static byte[] BigTiffHeader(ulong firstDirectory)
    {
        var file = new byte[32];
        WriteBigTiffHeader(file, firstDirectory);
        return file;
    }

    /// <summary>
    /// A little-endian BigTIFF whose first directory stores its ImageWidth as two LONG8 values, too many for the
    /// entry, so the entry holds their offset: <paramref name="valuesOffset"/>. ImageLength is 64.
    /// </summary>
    public static byte[] BigTiffWithWidthValuesAt(ulong valuesOffset)
    {
        const int directory = 16;
        const ushort long8Type = 16;
        var file = new byte[directory + 8 + (2 * 20) + 8];
        WriteBigTiffHeader(file, directory);
        BinaryPrimitives.WriteUInt64LittleEndian(file.AsSpan(directory), 2);
        var width = file.AsSpan(directory + 8, 20);
        BinaryPrimitives.WriteUInt16LittleEndian(width, 256);
        BinaryPrimitives.WriteUInt16LittleEndian(width[2..], long8Type);
        BinaryPrimitives.WriteUInt64LittleEndian(width[4..], 2);
        BinaryPrimitives.WriteUInt64LittleEndian(width[12..], valuesOffset);
        var height = file.AsSpan(directory + 28, 20);
        BinaryPrimitives.WriteUInt16LittleEndian(height, 257);
        BinaryPrimitives.WriteUInt16LittleEndian(height[2..], long8Type);
        BinaryPrimitives.WriteUInt64LittleEndian(height[4..], 1);
        BinaryPrimitives.WriteUInt64LittleEndian(height[12..], 64);
        return file;
    }

    /// <summary>A copy of a classic little-endian TIFF whose first page's strip claims <paramref name="byteCount"/> bytes.</summary>
    public static byte[] WithStripByteCount(byte[] tiff, uint byteCount) => WithFirstValue(tiff, StripByteCountsTag, byteCount);

    /// <summary>Rewrites the single LONG value of <paramref name="tag"/> in the first directory, as <see cref="Write"/> produces it for one strip.</summary>
    private static byte[] WithFirstValue(byte[] tiff, ushort tag, uint value)
    {
        var copy = tiff.ToArray();
        var directory = (int)BinaryPrimitives.ReadUInt32LittleEndian(copy.AsSpan(4));
        int count = BinaryPrimitives.ReadUInt16LittleEndian(copy.AsSpan(directory));
        for (var i = 0; i < count; i++)
        {
            var entry = copy.AsSpan(directory + 2 + (12 * i));
            if (BinaryPrimitives.ReadUInt16LittleEndian(entry) != tag)
            {
                continue;
            }

            if (BinaryPrimitives.ReadUInt16LittleEndian(entry[2..]) != LongType || BinaryPrimitives.ReadUInt32LittleEndian(entry[4..]) != 1)
            {
                throw new InvalidOperationException($"Expected one LONG value for tag {tag}, as Write produces for one strip.");
            }

            BinaryPrimitives.WriteUInt32LittleEndian(entry[8..], value);
            return copy;
        }

        throw new InvalidOperationException($"The TIFF has no tag {tag}.");
    }

    private static void WriteBigTiffHeader(Span<byte> file, ulong firstDirectory)
    {
        file[0] = file[1] = (byte)'I';
        BinaryPrimitives.WriteUInt16LittleEndian(file[2..], 43);
        BinaryPrimitives.WriteUInt16LittleEndian(file[4..], 8);
        BinaryPrimitives.WriteUInt64LittleEndian(file[8..], firstDirectory);
    }

    private static void WriteHeader(Span<byte> file, uint firstDirectory)
    {
        file[0] = file[1] = (byte)'I';
        BinaryPrimitives.WriteUInt16LittleEndian(file[2..], 42);
        BinaryPrimitives.WriteUInt32LittleEndian(file[4..], firstDirectory);
    }
}
