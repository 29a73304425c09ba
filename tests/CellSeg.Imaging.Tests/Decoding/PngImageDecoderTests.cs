using System.Buffers.Binary;
using System.IO.Compression;
using System.IO.Hashing;
using CellSeg.Imaging.Decoding;
using CellSeg.Imaging.Preprocessing;
using SkiaSharp;

namespace CellSeg.Imaging.Tests.Decoding;

/// <summary>
/// The managed PNG path must give every sample exactly as Skia's path gives it, and must leave to Skia every file it
/// does not fully understand.
/// </summary>
public sealed class PngImageDecoderTests
{
    public static TheoryData<string> DemoImages() =>
        [.. Directory.GetFiles(Path.Combine(AppContext.BaseDirectory, "demo"), "*.png").Select(file => Path.GetFileName(file)).Order()];

    [Theory]
    [MemberData(nameof(DemoImages))]
    public void DemoImageDecodesSampleForSampleAsSkiaDecodesIt(string file)
    {
        var png = File.ReadAllBytes(Path.Combine(AppContext.BaseDirectory, "demo", file));
        var header = ImageHeaderReader.Read(png);

        using var managed = PngImageDecoder.TryDecode(png, header);

        if (header.BitsPerChannel == 16)
        {
            Assert.Null(managed);
            return;
        }

        Assert.NotNull(managed);
        using var skia = SkiaImageDecoder.Decode(png, header, ImageDecodeOptions.Default);
        Assert.Equal((skia.Width, skia.Height), (managed.Width, managed.Height));
        Assert.True(skia.Rgb.SequenceEqual(managed.Rgb));
    }

    [Theory]
    [InlineData(0, 1)]
    [InlineData(2, 3)]
    [InlineData(4, 2)]
    [InlineData(6, 4)]
    public void EveryFilterOfEveryColourTypeDecodesAsSkiaDecodesIt(byte colourType, int channels)
    {
        // Rows cycle through the five filters, and the image data is split into small IDAT chunks.
        const int width = 37, height = 23;
        var pixels = VaryingPixels(width, height, channels);

        var png = Png(width, height, colourType, channels, pixels, row => (byte)(row % 5), idatSize: 64);
        var header = ImageHeaderReader.Read(png);

        using var managed = PngImageDecoder.TryDecode(png, header);
        using var skia = SkiaImageDecoder.Decode(png, header, ImageDecodeOptions.Default);

        Assert.NotNull(managed);
        Assert.True(skia.Rgb.SequenceEqual(managed.Rgb));
        Assert.Equal(pixels[channels * ((width * 5) + 3)] / 255f, managed[3, 5, 0], 1e-6f);
    }

    public static TheoryData<string> FilesLeftToSkia() =>
    [
        "palette", "16-bit grey", "interlaced", "wrong IDAT checksum", "cut inside IDAT", "IDAT without zlib stream",
        "unknown critical chunk", "filter type 5", "image data one row short", "chunk after IDAT then IDAT again",
    ];

    [Theory]
    [MemberData(nameof(FilesLeftToSkia))]
    public void FileOutsideTheManagedPathIsLeftToSkia(string kind)
    {
        var pixels = Enumerable.Range(0, 16 * 8).Select(i => (byte)(i * 3)).ToArray();
        var png = kind switch
        {
            "palette" => Png(16, 8, 3, 1, pixels, _ => 0, extraChunkBeforeData: ("PLTE", new byte[256 * 3])),
            "16-bit grey" => Png(8, 8, 0, 2, pixels, _ => 0, bitDepth: 16),
            "interlaced" => Png(16, 8, 0, 1, pixels, _ => 0, interlace: 1),
            "wrong IDAT checksum" => Damage(Png(16, 8, 0, 1, pixels, _ => 0), "IDAT", checksumOnly: true),
            "cut inside IDAT" => Png(16, 8, 0, 1, pixels, _ => 0) is var whole ? whole[..(FindChunk(whole, "IDAT") + 20)] : [],
            "IDAT without zlib stream" => Damage(Png(16, 8, 0, 1, pixels, _ => 0), "IDAT", checksumOnly: false),
            "unknown critical chunk" => Png(16, 8, 0, 1, pixels, _ => 0, extraChunkBeforeData: ("ABCD", [1, 2, 3])),
            "filter type 5" => Png(16, 8, 0, 1, pixels, _ => 5),
            "image data one row short" => Png(16, 8, 0, 1, pixels, _ => 0, rowsWritten: 7),
            "chunk after IDAT then IDAT again" => Png(16, 8, 0, 1, pixels, _ => 0, idatSize: 40, chunkBetweenIdats: true),
            _ => throw new ArgumentOutOfRangeException(nameof(kind)),
        };

        Assert.Null(PngImageDecoder.TryDecode(png, ImageHeaderReader.Read(png)));
    }

    [Theory]
    [InlineData("16-bit grey")]
    [InlineData("IDAT without zlib stream")]
    public void FileLeftToSkiaCostsNoDecodedImage(string kind)
    {
        // 2,000 × 2,000: the float RGB image would take 48 MB, the inflated rows of the second file 4 MB.
        const int side = 2000;
        var png = kind == "16-bit grey"
            ? Png(side, side, 0, 2, new byte[64], _ => 0, bitDepth: 16)
            : Damage(Png(side, side, 0, 1, new byte[64], _ => 0), "IDAT", checksumOnly: false);
        var header = ImageHeaderReader.Read(png);
        var (levels, tensor) = (new float[3 * 256], new float[3 * side * side]);

        // The first calls of this size: an image rented from the pool would be allocated here.
        var before = GC.GetAllocatedBytesForCurrentThread();
        Assert.Null(PngImageDecoder.TryDecode(png, header));
        Assert.False(PngImageDecoder.TryDecodePlanar(png, header, levels, tensor));
        var allocated = GC.GetAllocatedBytesForCurrentThread() - before;

        Assert.True(allocated < 8L << 20, $"Leaving the file to Skia allocated {allocated:N0} bytes.");
    }

    [Fact]
    public void ImageDecoderAnswersAWrongChecksumAsBeforeThroughSkia()
    {
        var png = Damage(Png(16, 8, 0, 1, new byte[16 * 8], _ => 0), "IDAT", checksumOnly: true);

        var exception = Assert.Throws<ImageDecodeException>(() => ImageDecoder.Decode(png));

        Assert.Equal(ImageDecodeError.Corrupt, exception.Error);
    }

    [Theory]
    [InlineData(0, 1)]
    [InlineData(2, 3)]
    [InlineData(4, 2)]
    [InlineData(6, 4)]
    public void ModelSizedPngDecodesStraightIntoTheSameTensorAsThroughTheDecodedImage(byte colourType, int channels)
    {
        const int width = 37, height = 23;
        var pixels = VaryingPixels(width, height, channels);
        var png = Png(width, height, colourType, channels, pixels, row => (byte)(row % 5), idatSize: 100);

        var (direct, size) = DecodeChw(png, width, height);

        Assert.Equal((width, height), size);
        Assert.Equal(ThroughDecodedImage(png, width, height), direct);
        // The planar path itself ran: it writes the tensor of a file it decodes, whatever the fallback would do.
        var levels = Enumerable.Range(0, 3 * 256).Select(i => (float)i).ToArray();
        var planes = new float[3 * width * height];
        Assert.True(PngImageDecoder.TryDecodePlanar(png, ImageHeaderReader.Read(png), levels, planes));
        Assert.Equal((256 * 2) + pixels[channels == 1 || channels == 2 ? 0 : 2], planes[2 * width * height]);
    }

    [Theory]
    [MemberData(nameof(DemoImages))]
    public void DemoImageDecodesIntoTheSameTensorAtItsOwnSizeAndAtTheModelsSize(string file)
    {
        var png = File.ReadAllBytes(Path.Combine(AppContext.BaseDirectory, "demo", file));
        var header = ImageHeaderReader.Read(png);

        foreach (var (width, height) in new[] { (header.Width, header.Height), (256, 256) })
        {
            var (direct, size) = DecodeChw(png, width, height);

            Assert.Equal((header.Width, header.Height), size);
            Assert.Equal(ThroughDecodedImage(png, width, height), direct);
            var (pipelined, pipelinedSize) = DecodeChwPipelined(png, width, height);
            Assert.Equal(size, pipelinedSize);
            Assert.Equal(direct, pipelined);
        }
    }

    [Fact]
    public void FilesTheTensorPathCannotReadGetTheDecodersAnswers()
    {
        var palette = Png(16, 8, 3, 1, new byte[16 * 8], _ => 0, extraChunkBeforeData: ("PLTE", new byte[256 * 3]));
        var damaged = Damage(Png(16, 8, 0, 1, new byte[16 * 8], _ => 0), "IDAT", checksumOnly: true);

        // A palette image is left to Skia: the same tensor all the same.
        Assert.Equal(ThroughDecodedImage(palette, 16, 8), DecodeChw(palette, 16, 8).Tensor);
        var exception = Assert.Throws<ImageDecodeException>(() => DecodeChw(damaged, 16, 8));
        Assert.Equal(ImageDecodeError.Corrupt, exception.Error);
        var tooLarge = Assert.Throws<ImageDecodeException>(() => InputTensorWriter.DecodeChw(
            palette, new ImageDecodeOptions { MaxPixels = 100 }, 16, 8, InputTensorWriter.ImageNetMean, InputTensorWriter.ImageNetStd, new float[3 * 16 * 8]));
        Assert.Equal(ImageDecodeError.TooLarge, tooLarge.Error);
    }

    [Theory]
    [InlineData(0, 1, 400, 330)]
    [InlineData(2, 3, 256, 192)]
    [InlineData(4, 2, 300, 240)]
    [InlineData(6, 4, 200, 170)]
    public void PipelinedDecodeWritesTheSameTensorAsTheSequentialOne(byte colourType, int channels, int width, int height)
    {
        var pixels = VaryingPixels(width, height, channels);
        var png = Png(width, height, colourType, channels, pixels, row => (byte)(row % 5), idatSize: 1000);
        // Large enough to be inflated on one thread and written on another.
        Assert.True(((width * channels) + 1) * height >= PngImageDecoder.PipelinedMinimumBytes);

        var (sequential, _) = DecodeChw(png, width, height);
        var (pipelined, size) = DecodeChwPipelined(png, width, height);

        Assert.Equal((width, height), size);
        Assert.Equal(sequential, pipelined);
    }

    public static TheoryData<string> ImageDataThePipelinedWriterCannotFinish() =>
        ["zlib stream damaged halfway", "filter type 5 in the last row", "image data one row short", "image data one row long"];

    [Theory]
    [MemberData(nameof(ImageDataThePipelinedWriterCannotFinish))]
    public void PipelinedDecodeLeavesBrokenImageDataToSkiaAsTheSequentialOneDoes(string kind)
    {
        const int width = 256, height = 192;
        var pixels = VaryingPixels(width, height, 3);
        var png = kind switch
        {
            "zlib stream damaged halfway" => DamageMiddle(Png(width, height, 2, 3, pixels, row => (byte)(row % 5))),
            "filter type 5 in the last row" => Png(width, height, 2, 3, pixels, row => row == height - 1 ? (byte)5 : (byte)(row % 5)),
            "image data one row short" => Png(width, height, 2, 3, pixels, _ => 1, rowsWritten: height - 1),
            "image data one row long" => Png(width, height, 2, 3, [.. pixels, .. new byte[width * 3]], _ => 1, rowsWritten: height + 1),
            _ => throw new ArgumentOutOfRangeException(nameof(kind)),
        };
        var header = ImageHeaderReader.Read(png);
        var (levels, tensor) = (new float[3 * 256], new float[3 * width * height]);

        Assert.False(PngImageDecoder.TryDecodePlanar(png, header, levels, tensor));
        Assert.False(PngImageDecoder.TryDecodePlanarPipelined(png, header, levels, tensor));
        // Through the tensor writer both go on to Skia, and get its answer.
        var sequential = Record.Exception(() => DecodeChw(png, width, height));
        var pipelined = Record.Exception(() => DecodeChwPipelined(png, width, height));
        Assert.Equal(sequential?.GetType(), pipelined?.GetType());
        Assert.Equal((sequential as ImageDecodeException)?.Error, (pipelined as ImageDecodeException)?.Error);
    }

    /// <summary>Samples that vary in both directions, so that every filter's predictor matters.</summary>
    private static byte[] VaryingPixels(int width, int height, int channels)
    {
        var pixels = new byte[width * height * channels];
        for (var i = 0; i < pixels.Length; i++)
        {
            pixels[i] = (byte)((i * 37 % 251) ^ (i / (width * channels) * 11));
        }

        return pixels;
    }

    private static (float[] Tensor, (int Width, int Height) Size) DecodeChw(byte[] png, int width, int height)
    {
        var tensor = new float[3 * width * height];
        var size = InputTensorWriter.DecodeChw(png, null, width, height, InputTensorWriter.ImageNetMean, InputTensorWriter.ImageNetStd, tensor);
        return (tensor, size);
    }

    private static (float[] Tensor, (int Width, int Height) Size) DecodeChwPipelined(byte[] png, int width, int height)
    {
        var tensor = new float[3 * width * height];
        var size = InputTensorWriter.DecodeChw(png, null, width, height, InputTensorWriter.ImageNetMean, InputTensorWriter.ImageNetStd, tensor, pipelined: true);
        return (tensor, size);
    }

    private static float[] ThroughDecodedImage(byte[] png, int width, int height)
    {
        using var image = ImageDecoder.Decode(png);
        var tensor = new float[3 * width * height];
        InputTensorWriter.WriteChw(image, width, height, InputTensorWriter.ImageNetMean, InputTensorWriter.ImageNetStd, tensor);
        return tensor;
    }

    /// <summary>A PNG written chunk by chunk, with a chosen filter per row applied as the specification defines it.</summary>
    private static byte[] Png(
        int width, int height, byte colourType, int channels, byte[] pixels, Func<int, byte> filterOfRow,
        int idatSize = 1 << 16, byte bitDepth = 8, byte interlace = 0, int? rowsWritten = null,
        (string Type, byte[] Data)? extraChunkBeforeData = null, bool chunkBetweenIdats = false)
    {
        var bytesPerPixel = Math.Max(1, channels * bitDepth / 8);
        var rowLength = width * bytesPerPixel;
        var raw = new MemoryStream();
        for (var y = 0; y < (rowsWritten ?? height); y++)
        {
            var filter = filterOfRow(y);
            raw.WriteByte(filter);
            for (var i = 0; i < rowLength; i++)
            {
                var value = Sample(pixels, y, i, rowLength);
                int left = i >= bytesPerPixel ? Sample(pixels, y, i - bytesPerPixel, rowLength) : 0;
                int above = y > 0 ? Sample(pixels, y - 1, i, rowLength) : 0;
                int upperLeft = y > 0 && i >= bytesPerPixel ? Sample(pixels, y - 1, i - bytesPerPixel, rowLength) : 0;
                var predicted = filter switch
                {
                    1 => left,
                    2 => above,
                    3 => (left + above) / 2,
                    4 => PaethPredictor(left, above, upperLeft),
                    _ => 0,
                };
                raw.WriteByte((byte)(value - predicted));
            }
        }

        var compressed = new MemoryStream();
        using (var zlib = new ZLibStream(compressed, CompressionLevel.Optimal, leaveOpen: true))
        {
            zlib.Write(raw.ToArray());
        }

        var file = new MemoryStream();
        file.Write([0x89, 0x50, 0x4E, 0x47, 0x0D, 0x0A, 0x1A, 0x0A]);
        var header = new byte[13];
        BinaryPrimitives.WriteInt32BigEndian(header, width);
        BinaryPrimitives.WriteInt32BigEndian(header.AsSpan(4), height);
        (header[8], header[9], header[12]) = (bitDepth, colourType, interlace);
        WriteChunk(file, "IHDR", header);
        if (extraChunkBeforeData is var (type, data))
        {
            WriteChunk(file, type, data);
        }

        var imageData = compressed.ToArray();
        for (var offset = 0; offset < imageData.Length; offset += idatSize)
        {
            if (chunkBetweenIdats && offset > 0)
            {
                WriteChunk(file, "tEXt", "Comment\0between"u8.ToArray());
            }

            WriteChunk(file, "IDAT", imageData.AsSpan(offset, Math.Min(idatSize, imageData.Length - offset)).ToArray());
        }

        WriteChunk(file, "IEND", []);
        return file.ToArray();
    }

    private static byte Sample(byte[] pixels, int y, int i, int rowLength) => pixels[((y * rowLength) + i) % pixels.Length];

    private static int PaethPredictor(int left, int above, int upperLeft)
    {
        var estimate = left + above - upperLeft;
        var (toLeft, toAbove, toUpperLeft) = (Math.Abs(estimate - left), Math.Abs(estimate - above), Math.Abs(estimate - upperLeft));
        return toLeft <= toAbove && toLeft <= toUpperLeft ? left : toAbove <= toUpperLeft ? above : upperLeft;
    }

    private static void WriteChunk(Stream file, string type, byte[] data)
    {
        Span<byte> word = stackalloc byte[4];
        BinaryPrimitives.WriteInt32BigEndian(word, data.Length);
        file.Write(word);
        var typeAndData = System.Text.Encoding.ASCII.GetBytes(type).Concat(data).ToArray();
        file.Write(typeAndData);
        BinaryPrimitives.WriteUInt32BigEndian(word, Crc32.HashToUInt32(typeAndData));
        file.Write(word);
    }

    private static int FindChunk(byte[] png, string type)
    {
        for (var position = 8; position + 8 <= png.Length; position += 12 + BinaryPrimitives.ReadInt32BigEndian(png.AsSpan(position)))
        {
            if (png.AsSpan(position + 4, 4).SequenceEqual(System.Text.Encoding.ASCII.GetBytes(type)))
            {
                return position;
            }
        }

        throw new InvalidOperationException($"No {type} chunk.");
    }

    /// <summary>The middle of the image data overwritten, its checksum made right: the zlib stream breaks off there.</summary>
    private static byte[] DamageMiddle(byte[] png) => Rewrite(png, "IDAT", data => data.Slice(data.Length / 2, 64).Fill(0xFF));

    /// <summary>Flips the chunk's checksum, or replaces its data with bytes that are no zlib stream (checksum kept right).</summary>
    private static byte[] Damage(byte[] png, string type, bool checksumOnly)
    {
        if (!checksumOnly)
        {
            return Rewrite(png, type, data => data.Fill(0x55));
        }

        var damaged = (byte[])png.Clone();
        var position = FindChunk(damaged, type);
        var length = BinaryPrimitives.ReadInt32BigEndian(damaged.AsSpan(position));
        damaged[position + 8 + length] ^= 0xFF;
        return damaged;
    }

    /// <summary>A copy with the chunk's data changed by <paramref name="change"/> and its checksum made right again.</summary>
    private static byte[] Rewrite(byte[] png, string type, Action<Span<byte>> change)
    {
        var rewritten = (byte[])png.Clone();
        var position = FindChunk(rewritten, type);
        var length = BinaryPrimitives.ReadInt32BigEndian(rewritten.AsSpan(position));
        change(rewritten.AsSpan(position + 8, length));
        BinaryPrimitives.WriteUInt32BigEndian(rewritten.AsSpan(position + 8 + length), Crc32.HashToUInt32(rewritten.AsSpan(position + 4, 4 + length)));
        return rewritten;
    }
}
