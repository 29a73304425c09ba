namespace CellSeg.Imaging.Geometry;

/// <summary>Convex hull and the caliper measurements taken on it.</summary>
internal static class ConvexHull
{
    /// <summary>
    /// Andrew's monotone chain. Returns the hull counter-clockwise in the y-up sense (positive shoelace area in
    /// these coordinates), without collinear vertices.
    /// </summary>
    public static PolygonPoint[] Of(IReadOnlyList<PolygonPoint> points)
    {
        var sorted = points.ToArray();
        Array.Sort(sorted, static (a, b) => a.X != b.X ? a.X.CompareTo(b.X) : a.Y.CompareTo(b.Y));
        if (sorted.Length < 3)
        {
            return sorted;
        }

        var hull = new PolygonPoint[2 * sorted.Length];
        var size = 0;
        foreach (var point in sorted)
        {
            while (size >= 2 && Cross(hull[size - 2], hull[size - 1], point) <= 0)
            {
                size--;
            }

            hull[size++] = point;
        }

        var lowerSize = size + 1;
        for (var i = sorted.Length - 2; i >= 0; i--)
        {
            while (size >= lowerSize && Cross(hull[size - 2], hull[size - 1], sorted[i]) <= 0)
            {
                size--;
            }

            hull[size++] = sorted[i];
        }

        // The last point repeats the first.
        return hull[..(size - 1)];
    }

    /// <summary>
    /// Maximum and minimum caliper (Feret) diameters by rotating calipers: the minimum is attained with one caliper
    /// flush against a hull edge, the maximum between an antipodal vertex pair.
    /// </summary>
    public static (double Max, double Min) FeretDiameters(PolygonPoint[] hull)
    {
        var n = hull.Length;
        if (n < 3)
        {
            var length = n == 2 ? Distance(hull[0], hull[1]) : 0;
            return (length, 0);
        }

        var max = 0.0;
        var min = double.MaxValue;
        var j = 1;
        for (var i = 0; i < n; i++)
        {
            var a = hull[i];
            var b = hull[(i + 1) % n];
            while (Math.Abs(Cross(a, b, hull[(j + 1) % n])) > Math.Abs(Cross(a, b, hull[j])))
            {
                j = (j + 1) % n;
            }

            var edgeLength = Distance(a, b);
            min = Math.Min(min, Math.Abs(Cross(a, b, hull[j])) / edgeLength);
            max = Math.Max(max, Math.Max(Distance(a, hull[j]), Distance(b, hull[j])));
        }

        return (max, min);
    }

    public static double Cross(PolygonPoint o, PolygonPoint a, PolygonPoint b) =>
        ((a.X - o.X) * (b.Y - o.Y)) - ((a.Y - o.Y) * (b.X - o.X));

    public static double Distance(PolygonPoint a, PolygonPoint b) => Math.Sqrt(((a.X - b.X) * (a.X - b.X)) + ((a.Y - b.Y) * (a.Y - b.Y)));
}
