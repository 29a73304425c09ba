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
    /// Writes a CHW tensor of 3 × <paramref name="height"/> × <paramref name="width"/> floats into
    /// <paramref name="destination"/>: plane c holds (v − mean[c]) / std[c], where v is the image bilinearly resized
    /// with half-pixel centres (see <see cref="BilinearTaps"/>). Only small per-call buffers are rented from the
    /// shared array pool; nothing proportional to the image is allocated.
    /// </summary>
    public static void WriteChw(
        DecodedImage image, int width, int height, ReadOnlySpan<float> mean, ReadOnlySpan<float> std, Span<float> destination)
    {
        ArgumentNullException.ThrowIfNull(image);
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

        Span<float> scale = stackalloc float[3];
        Span<float> offset = stackalloc float[3];
        for (var c = 0; c < 3; c++)
        {
            if (!(std[c] > 0))
            {
                throw new ArgumentException($"The standard deviation of channel {c} must be positive.", nameof(std));
            }

            scale[c] = 1f / std[c];
            offset[c] = -mean[c] / std[c];
        }

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
