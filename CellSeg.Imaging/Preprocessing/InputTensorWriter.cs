using System.Buffers;
using CellSeg.Imaging.Decoding;

namespace CellSeg.Imaging.Preprocessing;

/// <summary>Turns a decoded image into one model input: resized, normalised, channel-planar.</summary>
public static class InputTensorWriter
{
    /// <summary>Mean of the ImageNet training set per RGB channel, on the [0, 1] scale.</summary>
    public static ReadOnlySpan<float> ImageNetMean => [0.485f, 0.456f, 0.406f];

    /// <summary>Standard deviation of the ImageNet training set per RGB channel, on the [0, 1] scale.</summary>
    public static ReadOnlySpan<float> ImageNetStd => [0.229f, 0.224f, 0.225f];

    /// <summary>
    /// Decodes <paramref name="encoded"/> (see <see cref="ImageDecoder.Decode"/>) and writes the same tensor as
    /// <see cref="WriteChw"/> would from the decoded image. An 8-bit PNG of the model's size, what a client that resizes
    /// before sending uploads, is unfiltered straight into the tensor through a table of the 256 normalised values of
    /// each channel: no float RGB image is written and read back. On the demo images at 256 px that takes 0.42 ms
    /// rather than 0.47 for a grey one and 0.91 rather than 0.98 for an RGB one; in the service, a lone request's
    /// pre-processing p50 went from 0.65 to 0.56 ms (docs/benchmarks.md).
    /// </summary>
    /// <returns>The size of the image as decoded, which the model's output is scaled back to.</returns>
    /// <exception cref="ImageDecodeException">For every kind of bad input, as <see cref="ImageDecoder.Decode"/>.</exception>
    public static (int Width, int Height) DecodeChw(
        ReadOnlySpan<byte> encoded, ImageDecodeOptions? options, int width, int height, ReadOnlySpan<float> mean, ReadOnlySpan<float> std, Span<float> destination) =>
        DecodeChw(encoded, options, width, height, mean, std, destination, pipelinedDestination: null);

    /// <summary>
    /// <see cref="DecodeChw(ReadOnlySpan{byte}, ImageDecodeOptions?, int, int, ReadOnlySpan{float}, ReadOnlySpan{float}, Span{float})"/>,
    /// with the choice to decode a model-sized 8-bit PNG on two cores: this thread inflates while a pool thread restores
    /// and writes the rows already inflated. Worth it only where a core would otherwise wait, as for a lone request.
    /// </summary>
    /// <param name="pipelined">Whether to use a second core for a model-sized PNG; the tensor is the same either way.</param>
    public static (int Width, int Height) DecodeChw(
        ReadOnlySpan<byte> encoded, ImageDecodeOptions? options, int width, int height, ReadOnlySpan<float> mean, ReadOnlySpan<float> std, float[] destination, bool pipelined)
    {
        ArgumentNullException.ThrowIfNull(destination);
        return DecodeChw(encoded, options, width, height, mean, std, destination, pipelined ? destination : null);
    }

    private static (int Width, int Height) DecodeChw(
        ReadOnlySpan<byte> encoded, ImageDecodeOptions? options, int width, int height, ReadOnlySpan<float> mean, ReadOnlySpan<float> std,
        Span<float> destination, float[]? pipelinedDestination)
    {
        options ??= ImageDecodeOptions.Default;
        Span<float> scale = stackalloc float[3];
        Span<float> offset = stackalloc float[3];
        CheckTensor(width, height, mean, std, destination, scale, offset);

        var header = ImageDecoder.ReadHeader(encoded, options);
        DecodedImage image;
        if (header.Format == ImageFormat.Png && header.Width == width && header.Height == height)
        {
            // An array: a pipelined decode reads it on another thread.
            var levels = ArrayPool<float>.Shared.Rent(3 * 256);
            try
            {
                for (var c = 0; c < 3; c++)
                {
                    for (var value = 0; value < 256; value++)
                    {
                        // The arithmetic of the decoded path: the sample on the unit scale, then scale and offset.
                        levels[(c * 256) + value] = (PngImageDecoder.ToUnit(value) * scale[c]) + offset[c];
                    }
                }

                if (pipelinedDestination is not null
                    ? PngImageDecoder.TryDecodePlanarPipelined(encoded, header, levels, pipelinedDestination)
                    : PngImageDecoder.TryDecodePlanar(encoded, header, levels.AsSpan(0, 3 * 256), destination[..(3 * width * height)]))
                {
                    return (width, height);
                }
            }
            finally
            {
                ArrayPool<float>.Shared.Return(levels);
            }

            // Where the managed path just gave up, the decoder would go to Skia too: not inflating it a second time.
            image = SkiaImageDecoder.Decode(encoded, header, options);
        }
        else
        {
            image = ImageDecoder.Decode(encoded, header, options);
        }

        using (image)
        {
            WriteChw(image, width, height, mean, std, destination);
            return (image.Width, image.Height);
        }
    }

    /// <summary>
    /// Writes a CHW tensor of 3 × <paramref name="height"/> × <paramref name="width"/> floats into
    /// <paramref name="destination"/>: plane c holds (v − mean[c]) / std[c], where v is the image bilinearly resized
    /// with half-pixel centres (see <see cref="BilinearTaps"/>). Only small per-call buffers are rented from the
    /// shared array pool; nothing proportional to the image is allocated.
    /// </summary>
    public static void WriteChw(
        DecodedImage image, int width, int height, ReadOnlySpan<float> mean, ReadOnlySpan<float> std, Span<float> destination)
    {
        ArgumentNullException.ThrowIfNull(image);
        Span<float> scale = stackalloc float[3];
        Span<float> offset = stackalloc float[3];
        CheckTensor(width, height, mean, std, destination, scale, offset);
        var plane = width * height;

        if (image.Width == width && image.Height == height)
        {
            // Already the model's size: the bilinear taps would take every sample as it is (weight 0), so only the
            // channels are split and normalised, in one pass.
            WriteSameSize(image.Rgb, scale, offset, destination[..(3 * plane)]);
            return;
        }

        var pool = ArrayPool<float>.Shared;
        var indices = ArrayPool<int>.Shared.Rent(2 * width);
        var weights = pool.Rent(width);
        var upperRow = pool.Rent(3 * width);
        var lowerRow = pool.Rent(3 * width);
        try
        {
            var left = indices.AsSpan(0, width);
            var right = indices.AsSpan(width, width);
            BilinearTaps.Compute(image.Width, width, left, right, weights);
            var rowScale = (double)image.Height / height;
            int lowerSource = -1, upperSource = -1;
            for (var y = 0; y < height; y++)
            {
                var (top, bottom, wy) = BilinearTaps.At(image.Height, rowScale, y);

                // Consecutive output rows share source rows when enlarging; resample each source row across once.
                if (lowerSource != top)
                {
                    if (upperSource == top)
                    {
                        (lowerRow, upperRow) = (upperRow, lowerRow);
                        (lowerSource, upperSource) = (upperSource, lowerSource);
                    }
                    else
                    {
                        ResampleRow(image, top, left, right, weights, lowerRow);
                        lowerSource = top;
                    }
                }

                if (upperSource != bottom)
                {
                    ResampleRow(image, bottom, left, right, weights, upperRow);
                    upperSource = bottom;
                }

                var rowStart = y * width;
                for (var c = 0; c < 3; c++)
                {
                    var output = destination.Slice((c * plane) + rowStart, width);
                    var s = scale[c];
                    var o = offset[c];
                    for (var x = 0; x < width; x++)
                    {
                        var a = lowerRow[(3 * x) + c];
                        var value = a + ((upperRow[(3 * x) + c] - a) * wy);
                        output[x] = (value * s) + o;
                    }
                }
            }
        }
        finally
        {
            ArrayPool<int>.Shared.Return(indices);
            pool.Return(weights);
            pool.Return(upperRow);
            pool.Return(lowerRow);
        }
    }

    /// <summary>Checks a tensor's arguments and turns mean and standard deviation into a scale and an offset per channel.</summary>
    private static void CheckTensor(
        int width, int height, ReadOnlySpan<float> mean, ReadOnlySpan<float> std, Span<float> destination, Span<float> scale, Span<float> offset)
    {
        ArgumentOutOfRangeException.ThrowIfNegativeOrZero(width);
        ArgumentOutOfRangeException.ThrowIfNegativeOrZero(height);
        if (mean.Length != 3 || std.Length != 3)
        {
            throw new ArgumentException("Mean and standard deviation need one value per RGB channel.");
        }

        var plane = width * height;
        if (destination.Length < 3 * plane)
        {
            throw new ArgumentException($"The destination holds {destination.Length} floats; {3 * plane} are needed.", nameof(destination));
        }

        for (var c = 0; c < 3; c++)
        {
            if (!(std[c] > 0))
            {
                throw new ArgumentException($"The standard deviation of channel {c} must be positive.", nameof(std));
            }

            scale[c] = 1f / std[c];
            offset[c] = -mean[c] / std[c];
        }
    }

    private static void WriteSameSize(ReadOnlySpan<float> rgb, ReadOnlySpan<float> scale, ReadOnlySpan<float> offset, Span<float> destination)
    {
        var plane = destination.Length / 3;
        var red = destination[..plane];
        var green = destination.Slice(plane, plane);
        var blue = destination.Slice(2 * plane, plane);
        rgb = rgb[..(3 * plane)];
        float sr = scale[0], sg = scale[1], sb = scale[2], or = offset[0], og = offset[1], ob = offset[2];
        for (int i = 0, j = 0; i < plane; i++, j += 3)
        {
            red[i] = (rgb[j] * sr) + or;
            green[i] = (rgb[j + 1] * sg) + og;
            blue[i] = (rgb[j + 2] * sb) + ob;
        }
    }

    private static void ResampleRow(DecodedImage image, int sourceRow, ReadOnlySpan<int> left, ReadOnlySpan<int> right, ReadOnlySpan<float> weights, Span<float> row)
    {
        var source = image.Rgb.Slice(sourceRow * image.Width * 3, image.Width * 3);
        for (var x = 0; x < left.Length; x++)
        {
            var l = 3 * left[x];
            var r = 3 * right[x];
            var w = weights[x];
            row[3 * x] = source[l] + ((source[r] - source[l]) * w);
            row[(3 * x) + 1] = source[l + 1] + ((source[r + 1] - source[l + 1]) * w);
            row[(3 * x) + 2] = source[l + 2] + ((source[r + 2] - source[l + 2]) * w);
        }
    }
}
