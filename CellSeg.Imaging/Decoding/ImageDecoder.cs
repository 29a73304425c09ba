namespace CellSeg.Imaging.Decoding;

/// <summary>Decodes PNG, JPEG, BMP and TIFF files to float RGB; see <see cref="DecodedImage"/> for the layout.</summary>
public static class ImageDecoder
{
    /// <summary>
    /// Decodes the first image in <paramref name="data"/>. The header is read and checked against
    /// <see cref="ImageDecodeOptions.MaxPixels"/> before any pixel memory is allocated. 8-bit data maps to value / 255;
    /// 16-bit data is stretched between percentiles of its histogram (see <see cref="ImageDecodeOptions"/>).
    /// EXIF orientation is not applied: pixels come out as stored, matching the size the header reports.
    /// </summary>
    /// <exception cref="ImageDecodeException">For every kind of bad input.</exception>
    public static DecodedImage Decode(ReadOnlySpan<byte> data, ImageDecodeOptions? options = null)
    {
        options ??= ImageDecodeOptions.Default;
        return Decode(data, ReadHeader(data, options), options);
    }

    /// <summary>Decodes the image whose header <see cref="ReadHeader"/> read and checked.</summary>
    internal static DecodedImage Decode(ReadOnlySpan<byte> data, ImageInfo header, ImageDecodeOptions options) =>
        header.Format switch
        {
            ImageFormat.Tiff => TiffImageDecoder.Decode(data, header, options),
            ImageFormat.Png => PngImageDecoder.TryDecode(data, header) ?? SkiaImageDecoder.Decode(data, header, options),
            _ => SkiaImageDecoder.Decode(data, header, options),
        };

    /// <summary>The header, checked against the limits before any pixel memory is allocated.</summary>
    /// <exception cref="ImageDecodeException">For every kind of bad input the header shows.</exception>
    internal static ImageInfo ReadHeader(ReadOnlySpan<byte> data, ImageDecodeOptions options)
    {
        if (data.Length > options.MaxBytes)
        {
            throw new ImageDecodeException(
                ImageDecodeError.TooLarge,
                $"The file is {data.Length:N0} bytes, more than the limit of {options.MaxBytes:N0} bytes.");
        }

        var header = ImageHeaderReader.Read(data, options);

        // Three floats per pixel must fit in one array whatever limit the caller configured.
        if (header.PixelCount * 3 > Array.MaxLength)
        {
            throw new ImageDecodeException(
                ImageDecodeError.TooLarge,
                $"The image is {header.Width} × {header.Height} pixels, too many to hold in memory as RGB.");
        }

        return header;
    }
}
