using CellSeg.Imaging.Decoding;

namespace CellSeg.LoadGen.Quality;

/// <summary>
/// The classical baseline the networks must beat: Otsu's threshold on the grey image, as
/// <c>training/common.py</c> computes it (256 bins between the image's minimum and maximum, foreground above the
/// upper edge of the best bin). Polarity: brightfield objects are darker than their background, fluorescence
/// objects brighter, and objects rarely fill the image border, so the class that covers the minority of the
/// border pixels is taken as foreground.
/// </summary>
public static class OtsuBaseline
{
    private const int Bins = 256;

    /// <summary>A binary map at image size (1 = foreground) and whether the dark class was chosen as foreground.</summary>
    public static (float[] Map, bool ObjectsDarker) Segment(DecodedImage image)
    {
        ArgumentNullException.ThrowIfNull(image);
        var grey = Grey(image);
        var threshold = Threshold(grey);
        var map = new float[grey.Length];
        for (var i = 0; i < grey.Length; i++)
        {
            map[i] = grey[i] > threshold ? 1f : 0f;
        }

        var objectsDarker = BorderForegroundFraction(map, image.Width, image.Height) > 0.5;
        if (objectsDarker)
        {
            for (var i = 0; i < map.Length; i++)
            {
                map[i] = 1f - map[i];
            }
        }

        return (map, objectsDarker);
    }

    /// <summary>Otsu's threshold: the upper edge of the bin that maximises the between-class variance.</summary>
    public static double Threshold(ReadOnlySpan<float> grey)
    {
        float lo = float.PositiveInfinity, hi = float.NegativeInfinity;
        foreach (var g in grey)
        {
            lo = Math.Min(lo, g);
            hi = Math.Max(hi, g);
        }

        if (!(hi > lo))
        {
            return lo;
        }

        var histogram = new long[Bins];
        var width = (double)hi - lo;
        foreach (var g in grey)
        {
            // numpy.histogram: equal-width bins, the last one closed on the right.
            histogram[Math.Min(Bins - 1, (int)((g - (double)lo) / width * Bins))]++;
        }

        double total = grey.Length, meanTotal = 0;
        for (var k = 0; k < Bins; k++)
        {
            meanTotal += k * (histogram[k] / total);
        }

        double w0 = 0, mu = 0, best = double.NegativeInfinity;
        var bestBin = 0;
        for (var k = 0; k < Bins; k++)
        {
            var p = histogram[k] / total;
            w0 += p;
            mu += k * p;
            var w1 = 1 - w0;
            var between = w0 > 0 && w1 > 0 ? Math.Pow((meanTotal * w0) - mu, 2) / (w0 * w1) : 0;
            if (!double.IsFinite(between))
            {
                between = 0;
            }

            if (between > best)
            {
                best = between;
                bestBin = k;
            }
        }

        return lo + ((bestBin + 1) * width / Bins);
    }

    private static float[] Grey(DecodedImage image)
    {
        var rgb = image.Rgb;
        var grey = new float[image.Width * image.Height];
        for (var i = 0; i < grey.Length; i++)
        {
            grey[i] = (rgb[3 * i] + rgb[(3 * i) + 1] + rgb[(3 * i) + 2]) / 3f;
        }

        return grey;
    }

    private static double BorderForegroundFraction(ReadOnlySpan<float> map, int width, int height)
    {
        long foreground = 0, border = 0;
        for (var y = 0; y < height; y++)
        {
            var edgeRow = y == 0 || y == height - 1;
            for (var x = 0; x < width; x++)
            {
                if (edgeRow || x == 0 || x == width - 1)
                {
                    border++;
                    foreground += map[(y * width) + x] > 0.5f ? 1 : 0;
                }
            }
        }

        return (double)foreground / border;
    }
}
