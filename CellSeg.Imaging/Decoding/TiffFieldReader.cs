using System.Buffers.Binary;

namespace CellSeg.Imaging.Decoding;

/// <summary>Reads the few tags of a TIFF's first image file directory that describe its size and samples.</summary>
internal readonly ref struct TiffFieldReader(ReadOnlySpan<byte> data, bool bigEndian, bool bigTiff)
{
    private const int ImageWidthTag = 256;
    private const int ImageLengthTag = 257;
    private const int BitsPerSampleTag = 258;
    private const int PhotometricTag = 262;
    private const int SamplesPerPixelTag = 277;
    private const int PaletteInterpretation = 3;

    // Real files carry a few dozen tags; a larger count is garbage that would make us scan far.
    private const long MaxEntries = 4096;

    private readonly ReadOnlySpan<byte> _data = data;

    private int OffsetSize => bigTiff ? 8 : 4;

    private int EntrySize => bigTiff ? 20 : 12;

    public ImageDecodeFailure? ReadFirstDirectory(ref ImageInfo? info)
    {
        ulong directoryOffset;
        if (bigTiff)
        {
            if (_data.Length < 16)
            {
                return ImageHeaderReader.Truncated("BigTIFF header");
            }

            if (ReadUInt16(4) != 8 || ReadUInt16(6) != 0)
            {
                return ImageHeaderReader.Corrupt("The BigTIFF header declares an unsupported offset size.");
            }

            directoryOffset = ReadUInt64(8);
        }
        else
        {
            directoryOffset = ReadUInt32(4);
        }

        if (directoryOffset < (ulong)(bigTiff ? 16 : 8))
        {
            return ImageHeaderReader.Corrupt("The TIFF header points to an invalid first directory.");
        }

        var countSize = bigTiff ? 8 : 2;
        if (directoryOffset > (ulong)(_data.Length - countSize))
        {
            return ImageHeaderReader.Truncated("TIFF directory");
        }

        var position = (int)directoryOffset;
        var entryCount = bigTiff ? ReadUInt64(position) : ReadUInt16(position);
        if (entryCount == 0 || entryCount > MaxEntries)
        {
            return ImageHeaderReader.Corrupt($"The first TIFF directory declares {entryCount} entries.");
        }

        position += countSize;
        if ((ulong)position + (entryCount * (ulong)EntrySize) > (ulong)_data.Length)
        {
            return ImageHeaderReader.Truncated("TIFF directory");
        }

        ulong? width = null;
        ulong? height = null;
        ulong bitsPerSample = 1;
        ulong samplesPerPixel = 1;
        ulong photometric = 1;
        for (var i = 0; i < (int)entryCount; i++, position += EntrySize)
        {
            int tag = ReadUInt16(position);
            ImageDecodeFailure? failure = null;
            switch (tag)
            {
                case ImageWidthTag:
                    width = ReadFirstValue(position, ref failure);
                    break;
                case ImageLengthTag:
                    height = ReadFirstValue(position, ref failure);
                    break;
                case BitsPerSampleTag:
                    bitsPerSample = ReadFirstValue(position, ref failure);
                    break;
                case SamplesPerPixelTag:
                    samplesPerPixel = ReadFirstValue(position, ref failure);
                    break;
                case PhotometricTag:
                    photometric = ReadFirstValue(position, ref failure);
                    break;
                default:
                    break;
            }

            if (failure is not null)
            {
                return failure;
            }
        }

        if (width is null || height is null)
        {
            return ImageHeaderReader.Corrupt("The first TIFF directory lacks the ImageWidth or ImageLength tag.");
        }

        if (bitsPerSample is 0 or > 64 || samplesPerPixel is 0 or > 16)
        {
            return ImageHeaderReader.Corrupt(
                $"The TIFF declares {samplesPerPixel} samples per pixel of {bitsPerSample} bits, which is not a valid image.");
        }

        if (width > uint.MaxValue || height > uint.MaxValue)
        {
            return ImageHeaderReader.InvalidDimensions(ImageFormat.Tiff, (long)Math.Min(width.Value, long.MaxValue), (long)Math.Min(height.Value, long.MaxValue));
        }

        var channels = photometric == PaletteInterpretation ? 3 : (int)samplesPerPixel;
        return ImageHeaderReader.Accept(ImageFormat.Tiff, (uint)width.Value, (uint)height.Value, (int)bitsPerSample, channels, ref info);
    }

    private ulong ReadFirstValue(int entryPosition, ref ImageDecodeFailure? failure)
    {
        int type = ReadUInt16(entryPosition + 2);
        var count = bigTiff ? ReadUInt64(entryPosition + 4) : ReadUInt32(entryPosition + 4);
        var valueSize = type switch
        {
            1 => 1,
            3 => 2,
            4 => 4,
            16 => 8,
            _ => 0,
        };
        if (valueSize == 0 || count == 0)
        {
            failure = ImageHeaderReader.Corrupt($"The TIFF tag {ReadUInt16(entryPosition)} has an unexpected type {type} or no value.");
            return 0;
        }

        var valueField = entryPosition + 4 + OffsetSize;
        var position = valueField;

        // Values that do not fit in the entry's value field live elsewhere, and the field holds their offset.
        if (count * (ulong)valueSize > (ulong)OffsetSize)
        {
            var offset = bigTiff ? ReadUInt64(valueField) : ReadUInt32(valueField);
            if (offset > (ulong)(_data.Length - valueSize))
            {
                failure = ImageHeaderReader.Truncated("TIFF directory values");
                return 0;
            }

            position = (int)offset;
        }

        return valueSize switch
        {
            1 => _data[position],
            2 => ReadUInt16(position),
            4 => ReadUInt32(position),
            _ => ReadUInt64(position),
        };
    }

    private ushort ReadUInt16(int position) => bigEndian
        ? BinaryPrimitives.ReadUInt16BigEndian(_data[position..])
        : BinaryPrimitives.ReadUInt16LittleEndian(_data[position..]);

    private uint ReadUInt32(int position) => bigEndian
        ? BinaryPrimitives.ReadUInt32BigEndian(_data[position..])
        : BinaryPrimitives.ReadUInt32LittleEndian(_data[position..]);

    private ulong ReadUInt64(int position) => bigEndian
        ? BinaryPrimitives.ReadUInt64BigEndian(_data[position..])
        : BinaryPrimitives.ReadUInt64LittleEndian(_data[position..]);
}
