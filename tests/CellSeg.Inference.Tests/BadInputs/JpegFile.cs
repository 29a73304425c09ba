using System.Buffers.Binary;
using System.Runtime.InteropServices;
using SkiaSharp;

namespace CellSeg.Inference.Tests.BadInputs;

/// <summary>
/// JPEG files: real ones through Skia's encoder, and hand-written marker sequences for headers that lie and for
/// the CMYK variant Skia cannot encode.
/// </summary>
internal static class JpegFile
{
    private static ReadOnlySpan<byte> StartOfImage => [0xFF, 0xD8];

    private static ReadOnlySpan<byte> EndOfImage => [0xFF, 0xD9];

    public static byte[] Encode(Raster image, int quality)
    {
        var info = new SKImageInfo(image.Width, image.Height, SKColorType.Rgba8888, SKAlphaType.Opaque);
        var rgba = new byte[info.BytesSize];
        for (var i = 0; i < image.Width * image.Height; i++)
        {
            image.Rgb.AsSpan(3 * i, 3).CopyTo(rgba.AsSpan(4 * i));
            rgba[(4 * i) + 3] = byte.MaxValue;
        }

        var handle = GCHandle.Alloc(rgba, GCHandleType.Pinned);
        try
        {
            using var pixmap = new SKPixmap(info, handle.AddrOfPinnedObject(), info.RowBytes);
            using var data = pixmap.Encode(SKEncodedImageFormat.Jpeg, quality)
                ?? throw new InvalidOperationException("Skia cannot encode JPEG.");
            return data.ToArray();
        }
        finally
        {
            handle.Free();
        }
    }

    /// <summary>SOI and a baseline frame header declaring any size and component count; no tables, no scan.</summary>
    public static byte[] FrameHeaderOnly(ushort width, ushort height, byte components = 3) =>
        [.. StartOfImage, .. FrameHeader(width, height, components)];

    /// <summary>SOI and an APP0 (JFIF) segment: a file that ends before its frame header.</summary>
    public static byte[] JfifSegmentOnly() =>
        [.. StartOfImage, .. Segment(0xE0, [.. "JFIF\0"u8, 1, 1, 0, 0, 1, 0, 1, 0, 0])];

    /// <summary>A scan (SOS) where the frame header should come first.</summary>
    public static byte[] ScanBeforeFrame() =>
        [.. StartOfImage, .. Segment(0xDA, [1, 1, 0x00, 0, 63, 0]), 0x00, .. EndOfImage];

    /// <summary>
    /// An Adobe CMYK baseline JPEG of one flat colour. Every 8 × 8 block holds only a zero DC difference and an
    /// end-of-block, so one-symbol Huffman tables encode each block in two bits and each MCU of four blocks in one
    /// zero byte. <paramref name="size"/> must be a multiple of 8.
    /// </summary>
    public static byte[] FlatCmyk(ushort size)
    {
        if (size % 8 != 0)
        {
            throw new ArgumentOutOfRangeException(nameof(size), size, "A whole number of 8 × 8 blocks keeps the scan in whole bytes.");
        }

        // APP14 "Adobe", version 100, no flags, transform 0: the four components are stored as CMYK.
        byte[] adobe = [.. "Adobe"u8, 0, 100, 0, 0, 0, 0, 0];
        byte[] quantisation = [0x00, .. Enumerable.Repeat((byte)1, 64)];
        byte[] oneCodeOfLengthOne = [1, .. new byte[15], 0x00];
        byte[] scan = [4, 1, 0x00, 2, 0x00, 3, 0x00, 4, 0x00, 0, 63, 0];
        var entropyCoded = new byte[size / 8 * (size / 8)];
        return
        [
            .. StartOfImage,
            .. Segment(0xEE, adobe),
            .. Segment(0xDB, quantisation),
            .. FrameHeader(size, size, 4),
            .. Segment(0xC4, [0x00, .. oneCodeOfLengthOne]),
            .. Segment(0xC4, [0x10, .. oneCodeOfLengthOne]),
            .. Segment(0xDA, scan),
            .. entropyCoded,
            .. EndOfImage,
        ];
    }

    private static byte[] FrameHeader(ushort width, ushort height, byte components)
    {
        var frame = new byte[6 + (3 * components)];
        frame[0] = 8;
        BinaryPrimitives.WriteUInt16BigEndian(frame.AsSpan(1), height);
        BinaryPrimitives.WriteUInt16BigEndian(frame.AsSpan(3), width);
        frame[5] = components;
        for (var c = 0; c < components; c++)
        {
            // Component id, 1 × 1 sampling, quantisation table 0.
            frame[6 + (3 * c)] = (byte)(c + 1);
            frame[7 + (3 * c)] = 0x11;
        }

        return Segment(0xC0, frame);
    }

    private static byte[] Segment(byte marker, ReadOnlySpan<byte> payload)
    {
        var segment = new byte[4 + payload.Length];
        segment[0] = 0xFF;
        segment[1] = marker;
        BinaryPrimitives.WriteUInt16BigEndian(segment.AsSpan(2), (ushort)(payload.Length + 2));
        payload.CopyTo(segment.AsSpan(4));
        return segment;
    }
}
