namespace CellSeg.LoadGen;

public static class Statistics
{
    /// <summary>The nearest-rank percentile (<paramref name="p"/> in 0..1); NaN for no values.</summary>
    public static double Percentile(IReadOnlyCollection<double> values, double p)
    {
        if (values.Count == 0)
        {
            return double.NaN;
        }

        var sorted = values.Order().ToArray();
        return sorted[Math.Clamp((int)Math.Ceiling(p * sorted.Length) - 1, 0, sorted.Length - 1)];
    }
}
