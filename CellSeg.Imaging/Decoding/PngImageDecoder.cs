using System.Buffers;
using System.Buffers.Binary;
using System.Diagnostics.CodeAnalysis;
using System.IO.Compression;
using System.IO.Hashing;
using System.Runtime.CompilerServices;
using System.Runtime.InteropServices;
using System.Runtime.Intrinsics;

namespace CellSeg.Imaging.Decoding;

/// <summary>
/// The PNGs that microscopes and the demo write most: 8 bits per sample, not interlaced, grey, grey and alpha, RGB or
/// RGBA. The image data is inflated in one pass by the runtime's zlib and unfiltered here straight into float RGB.
/// libpng, under Skia, inflates one row per call: on the demo images at 256 × 256 the Skia path took 1.15 ms per
/// image and this one takes 0.59 (docs/benchmarks.md).
/// Every other PNG, and any file this path finds irregular (a bad checksum, a cut, an unknown critical chunk), is left
/// to Skia, whose answers to bad files are the documented ones.
/// </summary>
internal static class PngImageDecoder
{
    private const int SignatureLength = 8;
    private const int HeaderChunkEnd = SignatureLength + 8 + 13 + 4;

    /// <summary>The most bytes inflated before a pipelined writer hears of them: a few dozen rows of a 256 px image.</summary>
    private const int PipelinedPieceBytes = 16 * 1024;

    /// <summary>
    /// Below this many inflated bytes the second core is not worth waking: waking a pool thread on this 2-core VM costs
    /// about as much as the rows of a 256 px grey image (64 KiB), which it would take off this thread.
    /// </summary>
    internal const int PipelinedMinimumBytes = 128 * 1024;

    /// <returns>The image, or <see langword="null"/> when Skia should decode the file.</returns>
    public static DecodedImage? TryDecode(ReadOnlySpan<byte> data, ImageInfo header)
    {
        if (!TryInflate(data, header, out var raw, out var channels))
        {
            return null;
        }

        try
        {
            // Only now, with the data known to inflate to the right length: a file left to Skia costs no image here.
            var image = DecodedImage.RentPooled(header.Width, header.Height);
            if (Unfilter(raw, header.Width, header.Height, channels, new RgbRows(image.Samples, header.Width)))
            {
                return image;
            }

            image.Dispose();
            return null;
        }
        finally
        {
            ArrayPool<byte>.Shared.Return(raw);
        }
    }

    /// <summary>
    /// Decodes straight into a model's input: <paramref name="destination"/> gets three planes of the image's size, plane c
    /// holding <paramref name="levels"/>[256 × c + v] for each pixel's 8-bit value v of channel c (grey in all three).
    /// </summary>
    /// <returns>Whether it did; where not, Skia should decode the file (the destination may be partly written).</returns>
    public static bool TryDecodePlanar(ReadOnlySpan<byte> data, ImageInfo header, ReadOnlySpan<float> levels, Span<float> destination)
    {
        if (levels.Length != 3 * 256 || destination.Length != 3 * header.PixelCount)
        {
            throw new ArgumentException("Three levels tables of 256 and three planes of the image's size are needed.");
        }

        if (!TryInflate(data, header, out var raw, out var channels))
        {
            return false;
        }

        try
        {
            return Unfilter(raw, header.Width, header.Height, channels, new PlanarRows(levels, destination, header.Width));
        }
        finally
        {
            ArrayPool<byte>.Shared.Return(raw);
        }
    }

    /// <summary>
    /// <see cref="TryDecodePlanar"/> on two cores: this thread inflates while a pool thread restores and writes each row
    /// as soon as it is inflated, so the rows cost little more than the inflating. For a lone image on a machine with a
    /// core that would otherwise wait: the demo's RGB images at 256 × 256 decode in 0.78-0.85 ms rather than 0.90-1.07
    /// (docs/benchmarks.md). Images under <see cref="PipelinedMinimumBytes"/> of image data decode on this thread alone.
    /// </summary>
    /// <param name="levels">At least 3 × 256 values, as for <see cref="TryDecodePlanar"/>; read by the pool thread.</param>
    /// <param name="destination">At least three planes of the image's size; written by the pool thread.</param>
    /// <returns>Whether it did; where not, Skia should decode the file (the destination may be partly written).</returns>
    public static bool TryDecodePlanarPipelined(ReadOnlySpan<byte> data, ImageInfo header, float[] levels, float[] destination)
    {
        ArgumentNullException.ThrowIfNull(levels);
        ArgumentNullException.ThrowIfNull(destination);
        if (levels.Length < 3 * 256 || destination.Length < 3 * header.PixelCount)
        {
            throw new ArgumentException("Three levels tables of 256 and three planes of the image's size are needed.");
        }

        if (!TryReadLayout(data, header, out var channels, out var rawLength))
        {
            return false;
        }

        if (rawLength < PipelinedMinimumBytes)
        {
            return TryDecodePlanar(data, header, levels.AsSpan(0, 3 * 256), destination.AsSpan(0, 3 * header.Width * header.Height));
        }

        var compressed = ArrayPool<byte>.Shared.Rent(data.Length);
        var raw = ArrayPool<byte>.Shared.Rent(rawLength + 1);
        Task<bool>? writer = null;
        try
        {
            if (!TryCopyImageData(data, channels, compressed, out var compressedLength))
            {
                return false;
            }

            var progress = new InflateProgress();
            var (width, height) = (header.Width, header.Height);
            writer = Task.Factory.StartNew(
                () => WriteRowsAsInflated(raw, width, height, channels, progress, levels, destination),
                CancellationToken.None,
                TaskCreationOptions.DenyChildAttach,
                TaskScheduler.Default);
            var inflated = false;
            try
            {
                inflated = Inflate(compressed, compressedLength, raw, rawLength, progress);
            }
            finally
            {
                progress.Finish();
            }

            return writer.GetAwaiter().GetResult() && inflated;
        }
        finally
        {
            // The writer reads the inflated rows: they go back to the pool only once it has stopped.
            if (writer is { IsCompleted: false })
            {
                ((IAsyncResult)writer).AsyncWaitHandle.WaitOne();
            }

            ArrayPool<byte>.Shared.Return(raw);
            ArrayPool<byte>.Shared.Return(compressed);
        }
    }

    /// <summary>How far the inflating has got, for a writer that follows it on another thread.</summary>
    private sealed class InflateProgress
    {
        private long _inflated;
        private int _finished;

        public void Publish(long inflated) => Volatile.Write(ref _inflated, inflated);

        /// <summary>No more bytes will come, whether the data ended, broke off or was found corrupt.</summary>
        public void Finish() => Volatile.Write(ref _finished, 1);

        /// <summary>Spins until the first <paramref name="bytes"/> are inflated.</summary>
        /// <returns>Whether they are; <see langword="false"/> where the inflating finished short of them.</returns>
        public bool WaitFor(long bytes)
        {
            var spinner = default(SpinWait);
            while (Volatile.Read(ref _inflated) < bytes)
            {
                if (Volatile.Read(ref _finished) != 0)
                {
                    // Published before it finished: read once more.
                    return Volatile.Read(ref _inflated) >= bytes;
                }

                // Never a 1 ms sleep: the rows come within microseconds.
                spinner.SpinOnce(sleep1Threshold: -1);
            }

            return true;
        }
    }

    /// <summary>
    /// Restores and writes each row of <paramref name="raw"/> once it is inflated. Each row is copied out first: the
    /// inflating thread's buffer is only read here, never written.
    /// </summary>
    private static bool WriteRowsAsInflated(
        byte[] raw, int width, int height, int channels, InflateProgress progress, float[] levels, float[] destination)
    {
        var rowLength = width * channels;
        var rows = new PlanarRows(levels.AsSpan(0, 3 * 256), destination.AsSpan(0, 3 * width * height), width);
        var rowBuffers = ArrayPool<byte>.Shared.Rent(2 * rowLength);
        try
        {
            var current = rowBuffers.AsSpan(0, rowLength);
            var previous = rowBuffers.AsSpan(rowLength, rowLength);
            previous.Clear();
            for (var y = 0; y < height; y++)
            {
                var start = (long)y * (rowLength + 1);
                if (!progress.WaitFor(start + rowLength + 1))
                {
                    return false;
                }

                raw.AsSpan((int)start + 1, rowLength).CopyTo(current);
                if (!UnfilterRow(raw[start], current, previous, channels))
                {
                    return false;
                }

                rows.Write(current, channels, y);
                var restored = current;
                current = previous;
                previous = restored;
            }

            return true;
        }
        finally
        {
            ArrayPool<byte>.Shared.Return(rowBuffers);
        }
    }

    /// <summary>The filtered rows, inflated into <paramref name="raw"/>, an array the caller returns to the shared pool.</summary>
    private static bool TryInflate(ReadOnlySpan<byte> data, ImageInfo header, [NotNullWhen(true)] out byte[]? raw, out int channels)
    {
        raw = null;
        if (!TryReadLayout(data, header, out channels, out var rawLength))
        {
            return false;
        }

        // The image data cannot be longer than the file.
        var compressed = ArrayPool<byte>.Shared.Rent(data.Length);
        var inflated = ArrayPool<byte>.Shared.Rent(rawLength + 1);
        try
        {
            if (TryCopyImageData(data, channels, compressed, out var compressedLength) && Inflate(compressed, compressedLength, inflated, rawLength))
            {
                (raw, inflated) = (inflated, null);
                return true;
            }

            return false;
        }
        finally
        {
            if (inflated is not null)
            {
                ArrayPool<byte>.Shared.Return(inflated);
            }

            ArrayPool<byte>.Shared.Return(compressed);
        }
    }

    /// <summary>The header's channels, and the length of the filtered rows (a filter byte, then the samples, per row).</summary>
    /// <returns>Whether this path reads the file, and its rows fit in an array.</returns>
    private static bool TryReadLayout(ReadOnlySpan<byte> data, ImageInfo header, out int channels, out int rawLength)
    {
        rawLength = 0;
        if (!TryReadHeader(data, header, out channels))
        {
            return false;
        }

        var length = (((long)header.Width * channels) + 1) * header.Height;
        if (length >= Array.MaxLength)
        {
            return false;
        }

        rawLength = (int)length;
        return true;
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
    /// <param name="progress">Where set, told of every piece inflated (pieces of at most <see cref="PipelinedPieceBytes"/>).</param>
    private static bool Inflate(byte[] compressed, int compressedLength, byte[] raw, int rawLength, InflateProgress? progress = null)
    {
        try
        {
            using var zlib = new ZLibStream(new MemoryStream(compressed, 0, compressedLength, writable: false), CompressionMode.Decompress);
            var read = 0;
            var piece = progress is null ? int.MaxValue : PipelinedPieceBytes;
            int count;
            while ((count = zlib.Read(raw, read, Math.Min(piece, rawLength + 1 - read))) > 0)
            {
                read += count;
                if (read > rawLength)
                {
                    return false;
                }

                progress?.Publish(read);
            }

            return read == rawLength;
        }
        catch (InvalidDataException)
        {
            return false;
        }
    }

    /// <summary>Undoes each row's filter in place and hands each row, so restored, to <paramref name="rows"/>.</summary>
    private static bool Unfilter<TRows>(byte[] raw, int width, int height, int channels, TRows rows)
        where TRows : IRowWriter, allows ref struct
    {
        var rowLength = width * channels;
        ReadOnlySpan<byte> previous = new byte[rowLength];
        for (var y = 0; y < height; y++)
        {
            var row = raw.AsSpan((y * (rowLength + 1)) + 1, rowLength);
            if (!UnfilterRow(raw[y * (rowLength + 1)], row, previous, channels))
            {
                return false;
            }

            rows.Write(row, channels, y);
            previous = row;
        }

        return true;
    }

    /// <summary>Where the samples of each restored row go.</summary>
    private interface IRowWriter
    {
        void Write(ReadOnlySpan<byte> row, int channels, int y);
    }

    /// <summary>Interleaved float RGB as value / 255, alpha dropped: a <see cref="DecodedImage"/>'s samples.</summary>
    private readonly ref struct RgbRows : IRowWriter
    {
        private readonly Span<float> _samples;
        private readonly int _width;

        public RgbRows(Span<float> samples, int width)
        {
            _samples = samples;
            _width = width;
        }

        public void Write(ReadOnlySpan<byte> row, int channels, int y) =>
            WriteRgb(row, channels, UnitScale, _samples.Slice(y * _width * 3, _width * 3));
    }

    /// <summary>Three planes of floats looked up per channel, alpha dropped: a model's input tensor.</summary>
    private readonly ref struct PlanarRows : IRowWriter
    {
        private readonly ReadOnlySpan<float> _levels;
        private readonly Span<float> _planes;
        private readonly int _width;

        public PlanarRows(ReadOnlySpan<float> levels, Span<float> planes, int width)
        {
            _levels = levels;
            _planes = planes;
            _width = width;
        }

        public void Write(ReadOnlySpan<byte> row, int channels, int y)
        {
            var plane = _planes.Length / 3;
            var start = y * _width;
            WritePlanar(row, channels, _levels, _planes.Slice(start, _width), _planes.Slice(plane + start, _width), _planes.Slice((2 * plane) + start, _width));
        }
    }

    private static void WritePlanar(ReadOnlySpan<byte> row, int channels, ReadOnlySpan<float> levels, Span<float> red, Span<float> green, Span<float> blue)
    {
        var pixels = red.Length;
        if (row.Length < pixels * channels || green.Length != pixels || blue.Length != pixels || levels.Length < 3 * 256)
        {
            throw new ArgumentException("The row, the planes and the levels tables differ in size.", nameof(row));
        }

        ref var source = ref MemoryMarshal.GetReference(row);
        ref var redLevels = ref MemoryMarshal.GetReference(levels);
        ref var greenLevels = ref Unsafe.Add(ref redLevels, 256);
        ref var blueLevels = ref Unsafe.Add(ref redLevels, 512);
        ref var r = ref MemoryMarshal.GetReference(red);
        ref var g = ref MemoryMarshal.GetReference(green);
        ref var b = ref MemoryMarshal.GetReference(blue);
        if (channels <= 2)
        {
            for (nint x = 0, s = 0; x < pixels; x++, s += channels)
            {
                var value = Unsafe.Add(ref source, s);
                Unsafe.Add(ref r, x) = Unsafe.Add(ref redLevels, value);
                Unsafe.Add(ref g, x) = Unsafe.Add(ref greenLevels, value);
                Unsafe.Add(ref b, x) = Unsafe.Add(ref blueLevels, value);
            }

            return;
        }

        for (nint x = 0, s = 0; x < pixels; x++, s += channels)
        {
            Unsafe.Add(ref r, x) = Unsafe.Add(ref redLevels, Unsafe.Add(ref source, s));
            Unsafe.Add(ref g, x) = Unsafe.Add(ref greenLevels, Unsafe.Add(ref source, s + 1));
            Unsafe.Add(ref b, x) = Unsafe.Add(ref blueLevels, Unsafe.Add(ref source, s + 2));
        }
    }

    /// <summary>
    /// value × (1 / 255) for every byte value, the product Skia's path computes (not value / 255, which differs in
    /// the last bit for some values): one load instead of a conversion and a multiplication.
    /// </summary>
    private static readonly float[] UnitScale = [.. Enumerable.Range(0, 256).Select(ToUnit)];

    /// <summary>An 8-bit sample on the [0, 1] scale, as every path here computes it.</summary>
    internal static float ToUnit(int value) => value * (1f / byte.MaxValue);

    private static void WriteRgb(ReadOnlySpan<byte> row, int channels, ReadOnlySpan<float> toUnit, Span<float> rgb)
    {
        ref var scale = ref MemoryMarshal.GetReference(toUnit);
        ref var source = ref MemoryMarshal.GetReference(row);
        ref var target = ref MemoryMarshal.GetReference(rgb);
        var pixels = rgb.Length / 3;
        if (row.Length < pixels * channels)
        {
            throw new ArgumentException("The row is shorter than the image is wide.", nameof(row));
        }

        if (channels <= 2)
        {
            for (nint x = 0, s = 0; x < pixels; x++, s += channels)
            {
                var grey = Unsafe.Add(ref scale, Unsafe.Add(ref source, s));
                ref var pixel = ref Unsafe.Add(ref target, 3 * x);
                pixel = grey;
                Unsafe.Add(ref pixel, 1) = grey;
                Unsafe.Add(ref pixel, 2) = grey;
            }

            return;
        }

        for (nint x = 0, s = 0; x < pixels; x++, s += channels)
        {
            ref var pixel = ref Unsafe.Add(ref target, 3 * x);
            pixel = Unsafe.Add(ref scale, Unsafe.Add(ref source, s));
            Unsafe.Add(ref pixel, 1) = Unsafe.Add(ref scale, Unsafe.Add(ref source, s + 1));
            Unsafe.Add(ref pixel, 2) = Unsafe.Add(ref scale, Unsafe.Add(ref source, s + 2));
        }
    }

    /// <summary>
    /// Undoes one row's filter in place. Each byte depends on the one <paramref name="bytesPerPixel"/> to its left, so
    /// the Average loops for grey and RGB rows carry those bytes in registers rather than reading back what they just
    /// wrote.
    /// </summary>
    private static bool UnfilterRow(byte filter, Span<byte> row, ReadOnlySpan<byte> previous, int bytesPerPixel)
    {
        if (previous.Length < row.Length || row.Length < bytesPerPixel)
        {
            throw new ArgumentException("The rows differ in length.", nameof(previous));
        }

        ref var current = ref MemoryMarshal.GetReference(row);
        ref var above = ref MemoryMarshal.GetReference(previous);
        nint length = row.Length;
        nint bpp = bytesPerPixel;
        switch (filter)
        {
            case 0:
                return true;
            case 1:
                for (var i = bpp; i < length; i++)
                {
                    Unsafe.Add(ref current, i) += Unsafe.Add(ref current, i - bpp);
                }

                return true;
            case 2:
                var vectorised = 0;
                if (Vector128.IsHardwareAccelerated)
                {
                    for (; vectorised <= row.Length - Vector128<byte>.Count; vectorised += Vector128<byte>.Count)
                    {
                        var sum = Vector128.LoadUnsafe(ref current, (nuint)vectorised) + Vector128.LoadUnsafe(ref above, (nuint)vectorised);
                        sum.StoreUnsafe(ref current, (nuint)vectorised);
                    }
                }

                for (nint i = vectorised; i < length; i++)
                {
                    Unsafe.Add(ref current, i) += Unsafe.Add(ref above, i);
                }

                return true;
            case 3:
                for (nint i = 0; i < bpp; i++)
                {
                    Unsafe.Add(ref current, i) += (byte)(Unsafe.Add(ref above, i) >> 1);
                }

                if (bpp == 1)
                {
                    int left = current;
                    for (nint i = 1; i < length; i++)
                    {
                        left = (byte)(Unsafe.Add(ref current, i) + ((left + Unsafe.Add(ref above, i)) >> 1));
                        Unsafe.Add(ref current, i) = (byte)left;
                    }

                    return true;
                }

                if (bpp == 3)
                {
                    int red = current, green = Unsafe.Add(ref current, 1), blue = Unsafe.Add(ref current, 2);
                    for (nint i = 3; i + 2 < length; i += 3)
                    {
                        red = (byte)(Unsafe.Add(ref current, i) + ((red + Unsafe.Add(ref above, i)) >> 1));
                        green = (byte)(Unsafe.Add(ref current, i + 1) + ((green + Unsafe.Add(ref above, i + 1)) >> 1));
                        blue = (byte)(Unsafe.Add(ref current, i + 2) + ((blue + Unsafe.Add(ref above, i + 2)) >> 1));
                        Unsafe.Add(ref current, i) = (byte)red;
                        Unsafe.Add(ref current, i + 1) = (byte)green;
                        Unsafe.Add(ref current, i + 2) = (byte)blue;
                    }

                    return true;
                }

                for (var i = bpp; i < length; i++)
                {
                    Unsafe.Add(ref current, i) += (byte)((Unsafe.Add(ref current, i - bpp) + Unsafe.Add(ref above, i)) >> 1);
                }

                return true;
            case 4:
                // The first pixel has no left neighbours: Paeth then predicts from above.
                for (nint i = 0; i < bpp; i++)
                {
                    Unsafe.Add(ref current, i) += Unsafe.Add(ref above, i);
                }

                for (var i = bpp; i < length; i++)
                {
                    Unsafe.Add(ref current, i) += Paeth(Unsafe.Add(ref current, i - bpp), Unsafe.Add(ref above, i), Unsafe.Add(ref above, i - bpp));
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
