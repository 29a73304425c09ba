namespace CellSeg.Imaging.Decoding;

/// <summary>Maps 16-bit samples to [0, 1] between two percentiles of the image's own histogram.</summary>
internal static class IntensityStretch
{
    /// <summary>
    /// Converts <paramref name="samples"/> (1 or 3 per pixel) to interleaved RGB floats. The percentiles are taken
    /// over every sample of every channel together, so colour balance is kept. A flat image (no spread between the
    /// percentiles) keeps its absolute level, value / 65535, rather than becoming black.
    /// </summary>
    public static float[] ToRgb(ReadOnlySpan<ushort> samples, int samplesPerPixel, ImageDecodeOptions options)
    {
        var (low, high) = PercentileBounds(samples, options.HighBitDepthLowPercentile, options.HighBitDepthHighPercentile);
        float offset;
        float scale;
        if (high > low)
        {
            offset = low;
            scale = 1f / (high - low);
        }
        else
        {
            offset = 0;
            scale = 1f / ushort.MaxValue;
        }

        var pixelCount = samples.Length / samplesPerPixel;
        var rgb = GC.AllocateUninitializedArray<float>(pixelCount * 3);
        if (samplesPerPixel == 1)
        {
            for (var i = 0; i < pixelCount; i++)
            {
                var value = Math.Clamp((samples[i] - offset) * scale, 0f, 1f);
                rgb[3 * i] = value;
                rgb[(3 * i) + 1] = value;
                rgb[(3 * i) + 2] = value;
            }
        }
        else
        {
            for (var i = 0; i < rgb.Length; i++)
            {
                rgb[i] = Math.Clamp((samples[i] - offset) * scale, 0f, 1f);
            }
        }

        return rgb;
    }

    private static (int Low, int High) PercentileBounds(ReadOnlySpan<ushort> samples, double lowPercentile, double highPercentile)
    {
        var histogram = new int[ushort.MaxValue + 1];
        foreach (var sample in samples)
        {
            histogram[sample]++;
        }

        // Low: the first value with more than p% of samples at or below it, so p = 0 gives the minimum.
        // High: the first value with at least q% at or below it, so q = 100 gives the maximum.
        var lowCount = Math.Clamp(lowPercentile, 0, 100) / 100 * samples.Length;
        var highCount = Math.Clamp(highPercentile, 0, 100) / 100 * samples.Length;
        var low = -1;
        int high = ushort.MaxValue;
        long cumulative = 0;
        for (var value = 0; value <= ushort.MaxValue; value++)
        {
            cumulative += histogram[value];
            if (low < 0 && cumulative > lowCount)
            {
                low = value;
            }

            if (cumulative >= highCount && cumulative > 0)
            {
                high = value;
                break;
            }
        }

        return (Math.Max(low, 0), high);
    }
}
