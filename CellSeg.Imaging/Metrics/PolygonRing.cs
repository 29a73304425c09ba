using CellSeg.Imaging.Geometry;

namespace CellSeg.Imaging.Metrics;

internal static class PolygonRing
{
    /// <summary>
    /// The ring without a repeated closing vertex or consecutive duplicates; throws when it cannot be measured.
    /// </summary>
    public static PolygonPoint[] Normalise(IReadOnlyList<PolygonPoint> ring, string parameterName)
    {
        ArgumentNullException.ThrowIfNull(ring, parameterName);
        var points = new List<PolygonPoint>(ring.Count);
        foreach (var point in ring)
        {
            if (!double.IsFinite(point.X) || !double.IsFinite(point.Y))
            {
                throw new ArgumentException("A polygon has a vertex with a non-finite coordinate.", parameterName);
            }

            if (points.Count == 0 || points[^1] != point)
            {
                points.Add(point);
            }
        }

        while (points.Count > 1 && points[^1] == points[0])
        {
            points.RemoveAt(points.Count - 1);
        }

        if (points.Count < 3)
        {
            throw new ArgumentException("A polygon needs at least 3 distinct vertices.", parameterName);
        }

        if (SignedArea(points) == 0)
        {
            throw new ArgumentException("A polygon has zero area.", parameterName);
        }

        return [.. points];
    }

    /// <summary>Shoelace area: positive when the ring turns clockwise on screen (y down).</summary>
    public static double SignedArea(IReadOnlyList<PolygonPoint> ring)
    {
        var twice = 0.0;
        var origin = ring[0];
        for (var i = 0; i < ring.Count; i++)
        {
            var a = ring[i];
            var b = ring[(i + 1) % ring.Count];
            twice += ((a.X - origin.X) * (b.Y - origin.Y)) - ((b.X - origin.X) * (a.Y - origin.Y));
        }

        return twice / 2;
    }

    public static double Length(IReadOnlyList<PolygonPoint> ring)
    {
        var length = 0.0;
        for (var i = 0; i < ring.Count; i++)
        {
            length += ConvexHull.Distance(ring[i], ring[(i + 1) % ring.Count]);
        }

        return length;
    }
}
