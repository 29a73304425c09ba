using System.Buffers.Binary;
using System.Diagnostics.CodeAnalysis;

namespace CellSeg.Imaging.Decoding;

/// <summary>
/// Reads dimensions and sample layout from PNG, JPEG, BMP and TIFF headers without decoding pixels, so an upload
/// can be validated cheaply. The data may be a prefix of the file as long as it holds the header (for JPEG: every
/// segment before the frame header; for TIFF: the first IFD and its BitsPerSample array).
/// </summary>
public static class ImageHeaderReader
{
    /// <summary>Reads the header or throws <see cref="ImageDecodeException"/>.</summary>
    public static ImageInfo Read(ReadOnlySpan<byte> data, ImageDecodeOptions? options = null) =>
        TryRead(data, options, out var info, out var failure) ? info : throw new ImageDecodeException(failure);

    /// <summary>Reads the header, returning false with a reason instead of throwing.</summary>
    public static bool TryRead(
        ReadOnlySpan<byte> data,
        ImageDecodeOptions? options,
        [NotNullWhen(true)] out ImageInfo? info,
        [NotNullWhen(false)] out ImageDecodeFailure? failure)
    {
        options ??= ImageDecodeOptions.Default;
        info = null;
        failure = Parse(data, ref info);
        if (failure is null && info!.PixelCount > options.MaxPixels)
        {
            failure = new ImageDecodeFailure(
                ImageDecodeError.TooLarge,
                $"The image is {info.Width} × {info.Height} pixels ({info.PixelCount:N0}), more than the limit of {options.MaxPixels:N0} pixels.");
        }

        if (failure is not null)
        {
            info = null;
            return false;
        }

        return info is not null;
    }

    private static ImageDecodeFailure? Parse(ReadOnlySpan<byte> data, ref ImageInfo? info)
    {
        if (data.IsEmpty)
        {
            return new ImageDecodeFailure(ImageDecodeError.Empty, "The file is empty.");
        }

        var format = ImageFormatDetector.Detect(data);
        if (format is null)
        {
            return ImageFormatDetector.IsSignaturePrefix(data)
                ? Truncated("file signature")
                : new ImageDecodeFailure(
                    ImageDecodeError.UnsupportedFormat,
                    "The file is not a PNG, JPEG, BMP or TIFF image (its first bytes match none of these formats).");
        }

        return format switch
        {
            ImageFormat.Png => ParsePng(data, ref info),
            ImageFormat.Jpeg => ParseJpeg(data, ref info),
            ImageFormat.Bmp => ParseBmp(data, ref info),
            _ => ParseTiff(data, ref info),
        };
    }

    private static ImageDecodeFailure? ParsePng(ReadOnlySpan<byte> data, ref ImageInfo? info)
    {
        // Signature (8), chunk length (4), "IHDR" (4), then 13 bytes of IHDR payload.
        const int ihdrEnd = 8 + 8 + 13;
        if (data.Length < ihdrEnd)
        {
            return Truncated("PNG header");
        }

        if (BinaryPrimitives.ReadUInt32BigEndian(data[8..]) != 13 || !data[12..16].SequenceEqual("IHDR"u8))
        {
            return Corrupt("The PNG file does not start with a valid IHDR chunk.");
        }

        var width = BinaryPrimitives.ReadUInt32BigEndian(data[16..]);
        var height = BinaryPrimitives.ReadUInt32BigEndian(data[20..]);
        int bitDepth = data[24];
        int colourType = data[25];
        var channels = colourType switch
        {
            0 when bitDepth is 1 or 2 or 4 or 8 or 16 => 1,
            2 when bitDepth is 8 or 16 => 3,
            3 when bitDepth is 1 or 2 or 4 or 8 => 3,
            4 when bitDepth is 8 or 16 => 2,
            6 when bitDepth is 8 or 16 => 4,
            _ => 0,
        };
        if (channels == 0)
        {
            return Corrupt($"The PNG header declares an invalid colour type {colourType} with bit depth {bitDepth}.");
        }

        // Palette entries are 8-bit colours whatever the index depth.
        var bitsPerChannel = colourType == 3 ? 8 : bitDepth;
        return Accept(ImageFormat.Png, width, height, bitsPerChannel, channels, ref info);
    }

    private static ImageDecodeFailure? ParseJpeg(ReadOnlySpan<byte> data, ref ImageInfo? info)
    {
        var position = 2;
        while (true)
        {
            if (position >= data.Length)
            {
                return Truncated("JPEG header (no frame header found)");
            }

            if (data[position] != 0xFF)
            {
                return Corrupt("The JPEG file has data where a marker was expected before its frame header.");
            }

            // Any number of 0xFF fill bytes may precede a marker code.
            while (position < data.Length && data[position] == 0xFF)
            {
                position++;
            }

            if (position >= data.Length)
            {
                return Truncated("JPEG header");
            }

            int marker = data[position++];
            if (marker is 0x01 or 0xD8 or (>= 0xD0 and <= 0xD7))
            {
                continue;
            }

            if (marker is 0xD9 or 0xDA)
            {
                return Corrupt("The JPEG file has no frame header before its image data.");
            }

            if (position + 2 > data.Length)
            {
                return Truncated("JPEG header");
            }

            int length = BinaryPrimitives.ReadUInt16BigEndian(data[position..]);
            if (length < 2)
            {
                return Corrupt("The JPEG file has a segment with an invalid length.");
            }

            // SOF0–SOF15 carry the frame size; C4 (DHT), C8 (reserved) and CC (DAC) share the range but are not frames.
            var isFrameHeader = marker is >= 0xC0 and <= 0xCF and not (0xC4 or 0xC8 or 0xCC);
            if (isFrameHeader)
            {
                if (length < 8 || position + 8 > data.Length)
                {
                    return position + 8 > data.Length ? Truncated("JPEG frame header") : Corrupt("The JPEG frame header is too short.");
                }

                int precision = data[position + 2];
                int height = BinaryPrimitives.ReadUInt16BigEndian(data[(position + 3)..]);
                int width = BinaryPrimitives.ReadUInt16BigEndian(data[(position + 5)..]);
                int components = data[position + 7];
                if (components is not (1 or 3 or 4))
                {
                    return Corrupt($"The JPEG frame declares {components} colour components; only 1, 3 or 4 are possible.");
                }

                return height == 0
                    ? new ImageDecodeFailure(
                        ImageDecodeError.InvalidDimensions,
                        "The JPEG frame header declares a height of 0 (height defined later by a DNL marker is not supported).")
                    : Accept(ImageFormat.Jpeg, (uint)width, (uint)height, precision, components, ref info);
            }

            position += length;
        }
    }

    private static ImageDecodeFailure? ParseBmp(ReadOnlySpan<byte> data, ref ImageInfo? info)
    {
        var dibSize = BinaryPrimitives.ReadUInt32LittleEndian(data[14..]);
        long width;
        long height;
        int bitCount;
        if (dibSize == 12)
        {
            if (data.Length < 26)
            {
                return Truncated("BMP header");
            }

            width = BinaryPrimitives.ReadUInt16LittleEndian(data[18..]);
            height = BinaryPrimitives.ReadUInt16LittleEndian(data[20..]);
            bitCount = BinaryPrimitives.ReadUInt16LittleEndian(data[24..]);
        }
        else if (dibSize is >= 16 and <= 1024)
        {
            if (data.Length < 30)
            {
                return Truncated("BMP header");
            }

            width = BinaryPrimitives.ReadInt32LittleEndian(data[18..]);

            // A negative height marks a top-down bitmap; the size is its magnitude.
            height = Math.Abs((long)BinaryPrimitives.ReadInt32LittleEndian(data[22..]));
            bitCount = BinaryPrimitives.ReadUInt16LittleEndian(data[28..]);
        }
        else
        {
            return Corrupt($"The BMP file has an unknown information header size of {dibSize} bytes.");
        }

        var (bitsPerChannel, channels) = bitCount switch
        {
            1 or 2 or 4 or 8 or 24 => (8, 3),
            16 => (5, 3),
            32 => (8, 4),
            _ => (0, 0),
        };
        if (channels == 0)
        {
            return Corrupt($"The BMP header declares an invalid bit count of {bitCount}.");
        }

        if (width <= 0 || height <= 0)
        {
            return InvalidDimensions(ImageFormat.Bmp, width, height);
        }

        return Accept(ImageFormat.Bmp, (uint)width, (uint)height, bitsPerChannel, channels, ref info);
    }

    private static ImageDecodeFailure? ParseTiff(ReadOnlySpan<byte> data, ref ImageInfo? info)
    {
        if (data.Length < 8)
        {
            return Truncated("TIFF header");
        }

        var reader = new TiffFieldReader(data, bigEndian: data[0] == 0x4D, bigTiff: data[2] == 0x2B || data[3] == 0x2B);
        return reader.ReadFirstDirectory(ref info);
    }

    internal static ImageDecodeFailure? Accept(
        ImageFormat format, uint width, uint height, int bitsPerChannel, int channels, ref ImageInfo? info)
    {
        if (width == 0 || height == 0 || width > int.MaxValue || height > int.MaxValue)
        {
            return InvalidDimensions(format, width, height);
        }

        info = new ImageInfo(format, (int)width, (int)height, bitsPerChannel, channels);
        return null;
    }

    internal static ImageDecodeFailure InvalidDimensions(ImageFormat format, long width, long height) =>
        new(ImageDecodeError.InvalidDimensions, $"The {format.ToString().ToUpperInvariant()} header declares an invalid size of {width} × {height} pixels.");

    internal static ImageDecodeFailure Truncated(string what) =>
        new(ImageDecodeError.Truncated, $"The file ends inside its {what}; it was probably cut off during upload.");

    internal static ImageDecodeFailure Corrupt(string reason) => new(ImageDecodeError.Corrupt, reason);
}
