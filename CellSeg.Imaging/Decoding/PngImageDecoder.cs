using System.Buffers;
using System.Buffers.Binary;
using System.IO.Compression;
using System.IO.Hashing;

namespace CellSeg.Imaging.Decoding;

/// <summary>
/// The PNGs that microscopes and the demo write most: 8 bits per sample, not interlaced, grey, grey and alpha, RGB or
/// RGBA. The image data is inflated in one pass by the runtime's zlib and unfiltered here straight into float RGB.
/// libpng, under Skia, inflates one row per call: on the demo images at 256 × 256 the Skia path took 1.15 ms per
/// image and this one takes 0.75 (docs/benchmarks.md).
/// Every other PNG, and any file this path finds irregular (a bad checksum, a cut, an unknown critical chunk), is left
/// to Skia, whose answers to bad files are the documented ones.
/// </summary>
internal static class PngImageDecoder
{
    private const int SignatureLength = 8;
    private const int HeaderChunkEnd = SignatureLength + 8 + 13 + 4;

    /// <returns>The image, or <see langword="null"/> when Skia should decode the file.</returns>
    public static DecodedImage? TryDecode(ReadOnlySpan<byte> data, ImageInfo header)
    {
        if (!TryReadHeader(data, header, out var channels))
        {
            return null;
        }

        var rowLength = (long)header.Width * channels;
        var rawLength = (rowLength + 1) * header.Height;
        if (rawLength >= Array.MaxLength)
        {
            return null;
        }

        // The image data cannot be longer than the file.
        var compressed = ArrayPool<byte>.Shared.Rent(data.Length);
        var raw = ArrayPool<byte>.Shared.Rent((int)rawLength + 1);
        try
        {
            return TryCopyImageData(data, channels, compressed, out var compressedLength)
                && Inflate(compressed, compressedLength, raw, (int)rawLength)
                ? Unfilter(raw, header.Width, header.Height, channels)
                : null;
        }
        finally
        {
            ArrayPool<byte>.Shared.Return(raw);
            ArrayPool<byte>.Shared.Return(compressed);
        }
    }

    private static bool TryReadHeader(ReadOnlySpan<byte> data, ImageInfo header, out int channels)
    {
        channels = 0;
        if (data.Length < HeaderChunkEnd
            || BinaryPrimitives.ReadUInt32BigEndian(data[SignatureLength..]) != 13
            || !data.Slice(SignatureLength + 4, 4).SequenceEqual("IHDR"u8)
            || !HasValidChecksum(data, SignatureLength, 13))
        {
            return false;
        }

        var fields = data.Slice(SignatureLength + 8, 13);
        var (bitDepth, colourType, compression, filter, interlace) = (fields[8], fields[9], fields[10], fields[11], fields[12]);
        channels = colourType switch { 0 => 1, 2 => 3, 4 => 2, 6 => 4, _ => 0 };
        return channels > 0 && bitDepth == 8 && compression == 0 && filter == 0 && interlace == 0
            && BinaryPrimitives.ReadUInt32BigEndian(fields) == (uint)header.Width
            && BinaryPrimitives.ReadUInt32BigEndian(fields[4..]) == (uint)header.Height;
    }

    /// <summary>
    /// Walks the chunks after IHDR and copies the IDAT chunks' data into <paramref name="destination"/>: the IDAT chunks
    /// must be consecutive, every critical chunk must carry its right checksum, and the file must end at IEND or right
    /// after a whole chunk.
    /// </summary>
    private static bool TryCopyImageData(ReadOnlySpan<byte> data, int channels, Span<byte> destination, out int compressedLength)
    {
        compressedLength = 0;
        var (position, imageDataChunks, imageDataEnded) = (HeaderChunkEnd, 0, false);
        while (position < data.Length)
        {
            if (data.Length - position < 12)
            {
                return false;
            }

            var length = BinaryPrimitives.ReadUInt32BigEndian(data[position..]);
            var type = data.Slice(position + 4, 4);
            var critical = (type[0] & 0x20) == 0;
            if (length > (uint)(data.Length - position - 12) || (critical && !HasValidChecksum(data, position, (int)length)))
            {
                return false;
            }

            if (type.SequenceEqual("IDAT"u8))
            {
                if (imageDataEnded)
                {
                    return false;
                }

                imageDataChunks++;
                data.Slice(position + 8, (int)length).CopyTo(destination[compressedLength..]);
                compressedLength += (int)length;
            }
            else
            {
                imageDataEnded = imageDataChunks > 0;
                if (type.SequenceEqual("IEND"u8))
                {
                    break;
                }

                // A palette is only a suggestion for colour images; any other critical chunk is not understood here.
                if (critical && !(type.SequenceEqual("PLTE"u8) && channels >= 3 && imageDataChunks == 0))
                {
                    return false;
                }
            }

            position += 12 + (int)length;
        }

        return imageDataChunks > 0;
    }

    private static bool HasValidChecksum(ReadOnlySpan<byte> data, int chunkStart, int length) =>
        Crc32.HashToUInt32(data.Slice(chunkStart + 4, 4 + length)) == BinaryPrimitives.ReadUInt32BigEndian(data[(chunkStart + 8 + length)..]);

    /// <summary>Exactly <paramref name="rawLength"/> bytes and then the stream's end, whose Adler-32 zlib checks.</summary>
    private static bool Inflate(byte[] compressed, int compressedLength, byte[] raw, int rawLength)
    {
        try
        {
            using var zlib = new ZLibStream(new MemoryStream(compressed, 0, compressedLength, writable: false), CompressionMode.Decompress);
            var read = 0;
            int count;
            while ((count = zlib.Read(raw, read, rawLength + 1 - read)) > 0)
            {
                read += count;
                if (read > rawLength)
                {
                    return false;
                }
            }

            return read == rawLength;
        }
        catch (InvalidDataException)
        {
            return false;
        }
    }

    /// <summary>Undoes each row's filter in place and writes the colour samples as value / 255, alpha dropped.</summary>
    private static DecodedImage? Unfilter(byte[] raw, int width, int height, int channels)
    {
        var rowLength = width * channels;
        var image = DecodedImage.RentPooled(width, height);
        var samples = image.Samples;
        ReadOnlySpan<byte> previous = new byte[rowLength];
        const float toUnit = 1f / byte.MaxValue;
        for (var y = 0; y < height; y++)
        {
            var row = raw.AsSpan((y * (rowLength + 1)) + 1, rowLength);
            if (!UnfilterRow(raw[y * (rowLength + 1)], row, previous, channels))
            {
                image.Dispose();
                return null;
            }

            var rgb = samples.Slice(y * width * 3, width * 3);
            switch (channels)
            {
                case 1 or 2:
                    for (int x = 0, source = 0; x < width; x++, source += channels)
                    {
                        rgb[3 * x] = rgb[(3 * x) + 1] = rgb[(3 * x) + 2] = row[source] * toUnit;
                    }

                    break;
                default:
                    for (int x = 0, source = 0; x < width; x++, source += channels)
                    {
                        rgb[3 * x] = row[source] * toUnit;
                        rgb[(3 * x) + 1] = row[source + 1] * toUnit;
                        rgb[(3 * x) + 2] = row[source + 2] * toUnit;
                    }

                    break;
            }

            previous = row;
        }

        return image;
    }

    /// <summary>The five filters of the PNG specification; bytes per pixel equals channels at 8 bits.</summary>
    private static bool UnfilterRow(byte filter, Span<byte> row, ReadOnlySpan<byte> previous, int bytesPerPixel)
    {
        switch (filter)
        {
            case 0:
                return true;
            case 1:
                for (var i = bytesPerPixel; i < row.Length; i++)
                {
                    row[i] += row[i - bytesPerPixel];
                }

                return true;
            case 2:
                for (var i = 0; i < row.Length; i++)
                {
                    row[i] += previous[i];
                }

                return true;
            case 3:
                for (var i = 0; i < bytesPerPixel; i++)
                {
                    row[i] += (byte)(previous[i] >> 1);
                }

                for (var i = bytesPerPixel; i < row.Length; i++)
                {
                    row[i] += (byte)((row[i - bytesPerPixel] + previous[i]) >> 1);
                }

                return true;
            case 4:
                // The first pixel has no left neighbours: Paeth then predicts from above.
                for (var i = 0; i < bytesPerPixel; i++)
                {
                    row[i] += previous[i];
                }

                for (var i = bytesPerPixel; i < row.Length; i++)
                {
                    row[i] += Paeth(row[i - bytesPerPixel], previous[i], previous[i - bytesPerPixel]);
                }

                return true;
            default:
                return false;
        }
    }

    private static byte Paeth(int left, int above, int upperLeft)
    {
        var estimate = left + above - upperLeft;
        var (toLeft, toAbove, toUpperLeft) = (Math.Abs(estimate - left), Math.Abs(estimate - above), Math.Abs(estimate - upperLeft));
        return (byte)(toLeft <= toAbove && toLeft <= toUpperLeft ? left : toAbove <= toUpperLeft ? above : upperLeft);
    }
}
