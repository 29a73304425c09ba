using System.Buffers.Binary;
using System.Runtime.InteropServices;
using BitMiracle.LibTiff.Classic;
using SkiaSharp;

namespace CellSeg.Imaging.Tests.Decoding;

/// <summary>Encodes small images in memory so decoding tests know every pixel they expect back.</summary>
internal static class TestImageFiles
{
    /// <summary>A grey ramp: value (x * 10 + y * 3) mod 256.</summary>
    public static byte GreyRamp(int x, int y) => (byte)(((x * 10) + (y * 3)) % 256);

    /// <summary>An RGB pattern whose channels differ, so channel order mistakes show.</summary>
    public static (byte R, byte G, byte B) ColourPattern(int x, int y) =>
        ((byte)(x * 20 % 256), (byte)(y * 30 % 256), (byte)((x + y) * 7 % 256));

    public static byte[] EncodeWithSkia(int width, int height, bool grey, SKEncodedImageFormat format, int quality = 100)
    {
        var info = new SKImageInfo(width, height, grey ? SKColorType.Gray8 : SKColorType.Rgba8888, SKAlphaType.Opaque);
        using var bitmap = new SKBitmap(info);
        for (var y = 0; y < height; y++)
        {
            for (var x = 0; x < width; x++)
            {
                var (r, g, b) = ColourPattern(x, y);
                var v = GreyRamp(x, y);
                bitmap.SetPixel(x, y, grey ? new SKColor(v, v, v) : new SKColor(r, g, b));
            }
        }

        using var data = bitmap.Encode(format, quality) ?? throw new InvalidOperationException($"Skia cannot encode {format}.");
        return data.ToArray();
    }

    /// <summary>A 16-bit PNG through Skia's half-float encoder; <paramref name="value"/> gives each pixel's grey level.</summary>
    public static byte[] SixteenBitPng(int width, int height, Func<int, int, ushort> value)
    {
        var info = new SKImageInfo(width, height, SKColorType.RgbaF16, SKAlphaType.Unpremul);
        var pixels = new Half[width * height * 4];
        for (var y = 0; y < height; y++)
        {
            for (var x = 0; x < width; x++)
            {
                var level = (Half)(value(x, y) / 65535.0);
                var i = ((y * width) + x) * 4;
                pixels[i] = pixels[i + 1] = pixels[i + 2] = level;
                pixels[i + 3] = (Half)1;
            }
        }

        var handle = GCHandle.Alloc(pixels, GCHandleType.Pinned);
        try
        {
            using var pixmap = new SKPixmap(info, handle.AddrOfPinnedObject(), info.RowBytes);
            using var data = pixmap.Encode(new SKPngEncoderOptions()) ?? throw new InvalidOperationException("Skia cannot encode 16-bit PNG.");
            return data.ToArray();
        }
        finally
        {
            handle.Free();
        }
    }

    /// <summary>An uncompressed 24-bit bottom-up BMP, written by hand because Skia has no BMP encoder.</summary>
    public static byte[] Bmp24(int width, int height)
    {
        var rowBytes = ((width * 3) + 3) & ~3;
        var file = new byte[54 + (rowBytes * height)];
        file[0] = (byte)'B';
        file[1] = (byte)'M';
        BinaryPrimitives.WriteInt32LittleEndian(file.AsSpan(2), file.Length);
        BinaryPrimitives.WriteInt32LittleEndian(file.AsSpan(10), 54);
        BinaryPrimitives.WriteInt32LittleEndian(file.AsSpan(14), 40);
        BinaryPrimitives.WriteInt32LittleEndian(file.AsSpan(18), width);
        BinaryPrimitives.WriteInt32LittleEndian(file.AsSpan(22), height);
        BinaryPrimitives.WriteInt16LittleEndian(file.AsSpan(26), 1);
        BinaryPrimitives.WriteInt16LittleEndian(file.AsSpan(28), 24);
        BinaryPrimitives.WriteInt32LittleEndian(file.AsSpan(34), rowBytes * height);
        for (var y = 0; y < height; y++)
        {
            var row = 54 + ((height - 1 - y) * rowBytes);
            for (var x = 0; x < width; x++)
            {
                var (r, g, b) = ColourPattern(x, y);
                file[row + (3 * x)] = b;
                file[row + (3 * x) + 1] = g;
                file[row + (3 * x) + 2] = r;
            }
        }

        return file;
    }

    /// <summary>Just a PNG signature and IHDR chunk declaring the given size; no pixel data follows.</summary>
    public static byte[] PngHeaderOnly(uint width, uint height, byte bitDepth = 8, byte colourType = 2)
    {
        var file = new byte[8 + 8 + 13 + 4];
        ReadOnlySpan<byte> signature = [0x89, 0x50, 0x4E, 0x47, 0x0D, 0x0A, 0x1A, 0x0A];
        signature.CopyTo(file);
        BinaryPrimitives.WriteUInt32BigEndian(file.AsSpan(8), 13);
        "IHDR"u8.CopyTo(file.AsSpan(12));
        BinaryPrimitives.WriteUInt32BigEndian(file.AsSpan(16), width);
        BinaryPrimitives.WriteUInt32BigEndian(file.AsSpan(20), height);
        file[24] = bitDepth;
        file[25] = colourType;
        return file;
    }

    /// <summary>Rewrites every StripOffsets value of a little-endian classic TIFF's first directory to lie beyond the file.</summary>
    public static void PointStripsPastTheEnd(byte[] tiff)
    {
        var directory = BinaryPrimitives.ReadInt32LittleEndian(tiff.AsSpan(4));
        int entries = BinaryPrimitives.ReadUInt16LittleEndian(tiff.AsSpan(directory));
        for (var i = 0; i < entries; i++)
        {
            var entry = directory + 2 + (12 * i);
            if (BinaryPrimitives.ReadUInt16LittleEndian(tiff.AsSpan(entry)) != 273)
            {
                continue;
            }

            var count = BinaryPrimitives.ReadInt32LittleEndian(tiff.AsSpan(entry + 4));
            var values = count == 1 ? entry + 8 : BinaryPrimitives.ReadInt32LittleEndian(tiff.AsSpan(entry + 8));
            for (var s = 0; s < count; s++)
            {
                BinaryPrimitives.WriteInt32LittleEndian(tiff.AsSpan(values + (4 * s)), tiff.Length + 1000);
            }
        }
    }

    /// <summary>One TIFF page to write: its samples are produced by <see cref="Sample"/>.</summary>
    public sealed record TiffPage(int Width, int Height, int BitsPerSample, int SamplesPerPixel, Func<int, int, int, int> Sample)
    {
        public Photometric Photometric { get; init; } = SamplesPerPixel >= 3 ? Photometric.RGB : Photometric.MINISBLACK;

        public int TileSize { get; init; }

        public bool Planar { get; init; }

        public Compression Compression { get; init; } = Compression.NONE;
    }

    public static byte[] Tiff(params TiffPage[] pages) => Tiff("wl", pages);

    public static byte[] Tiff(bool bigEndian, params TiffPage[] pages) => Tiff(bigEndian ? "wb" : "wl", pages);

    /// <summary>A BigTIFF (64-bit offsets), as written for files over 4 GB.</summary>
    public static byte[] BigTiff(params TiffPage[] pages) => Tiff("w8", pages);

    private static byte[] Tiff(string mode, TiffPage[] pages)
    {
        using var stream = new MemoryStream();
        using (var tiff = BitMiracle.LibTiff.Classic.Tiff.ClientOpen("test", mode, stream, new TiffStream())
            ?? throw new InvalidOperationException("LibTiff cannot write to memory."))
        {
            for (var page = 0; page < pages.Length; page++)
            {
                WritePage(tiff, pages[page], page, pages.Length);
            }
        }

        return stream.ToArray();
    }

    private static void WritePage(Tiff tiff, TiffPage page, int index, int count)
    {
        tiff.SetField(TiffTag.IMAGEWIDTH, page.Width);
        tiff.SetField(TiffTag.IMAGELENGTH, page.Height);
        tiff.SetField(TiffTag.BITSPERSAMPLE, page.BitsPerSample);
        tiff.SetField(TiffTag.SAMPLESPERPIXEL, page.SamplesPerPixel);
        tiff.SetField(TiffTag.PHOTOMETRIC, page.Photometric);
        tiff.SetField(TiffTag.PLANARCONFIG, page.Planar ? PlanarConfig.SEPARATE : PlanarConfig.CONTIG);
        tiff.SetField(TiffTag.COMPRESSION, page.Compression);
        if (count > 1)
        {
            tiff.SetField(TiffTag.SUBFILETYPE, FileType.PAGE);
            tiff.SetField(TiffTag.PAGENUMBER, index, count);
        }

        var bytesPerSample = page.BitsPerSample / 8;
        var planes = page.Planar ? page.SamplesPerPixel : 1;
        var perPixel = page.Planar ? 1 : page.SamplesPerPixel;
        if (page.TileSize > 0)
        {
            tiff.SetField(TiffTag.TILEWIDTH, page.TileSize);
            tiff.SetField(TiffTag.TILELENGTH, page.TileSize);
            var tile = new byte[page.TileSize * page.TileSize * perPixel * bytesPerSample];
            for (var plane = 0; plane < planes; plane++)
            {
                for (var tileY = 0; tileY < page.Height; tileY += page.TileSize)
                {
                    for (var tileX = 0; tileX < page.Width; tileX += page.TileSize)
                    {
                        Array.Clear(tile);
                        for (var y = 0; y < page.TileSize && tileY + y < page.Height; y++)
                        {
                            for (var x = 0; x < page.TileSize && tileX + x < page.Width; x++)
                            {
                                for (var s = 0; s < perPixel; s++)
                                {
                                    var sample = page.Sample(tileX + x, tileY + y, page.Planar ? plane : s);
                                    Put(tile, ((((y * page.TileSize) + x) * perPixel) + s) * bytesPerSample, sample, bytesPerSample);
                                }
                            }
                        }

                        tiff.WriteTile(tile, tileX, tileY, 0, (short)plane);
                    }
                }
            }
        }
        else
        {
            tiff.SetField(TiffTag.ROWSPERSTRIP, 3);
            var line = new byte[page.Width * perPixel * bytesPerSample];
            for (var plane = 0; plane < planes; plane++)
            {
                for (var y = 0; y < page.Height; y++)
                {
                    for (var x = 0; x < page.Width; x++)
                    {
                        for (var s = 0; s < perPixel; s++)
                        {
                            Put(line, ((x * perPixel) + s) * bytesPerSample, page.Sample(x, y, page.Planar ? plane : s), bytesPerSample);
                        }
                    }

                    tiff.WriteScanline(line, y, (short)plane);
                }
            }
        }

        tiff.WriteDirectory();
    }

    private static void Put(byte[] buffer, int offset, int sample, int bytesPerSample)
    {
        if (bytesPerSample == 1)
        {
            buffer[offset] = (byte)sample;
        }
        else
        {
            // LibTiff takes samples in machine order and swaps them itself for big-endian files.
            BinaryPrimitives.WriteUInt16LittleEndian(buffer.AsSpan(offset), (ushort)sample);
        }
    }
}
