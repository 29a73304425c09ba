namespace CellSeg.Imaging.Geometry;

/// <summary>Douglas–Peucker simplification of closed rings.</summary>
public static class PolygonSimplifier
{
    /// <summary>
    /// Removes vertices that lie within <paramref name="tolerance"/> pixels of the simplified outline. The ring is
    /// split at its first vertex and the vertex farthest from it, and each half is simplified as an open chain, so
    /// both split vertices are kept. A tolerance of 0 (or a result of fewer than 3 vertices) returns the ring as is.
    /// </summary>
    public static IReadOnlyList<PolygonPoint> Simplify(IReadOnlyList<PolygonPoint> ring, double tolerance)
    {
        ArgumentNullException.ThrowIfNull(ring);
        if (!(tolerance > 0) || ring.Count < 4)
        {
            return ring;
        }

        var count = ring.Count;
        var far = 0;
        var farthest = -1.0;
        for (var i = 1; i < count; i++)
        {
            var dx = ring[i].X - ring[0].X;
            var dy = ring[i].Y - ring[0].Y;
            var distance = (dx * dx) + (dy * dy);
            if (distance > farthest)
            {
                farthest = distance;
                far = i;
            }
        }

        var keep = new bool[count];
        keep[0] = true;
        keep[far] = true;
        var pending = new Stack<(int From, int To)>();
        pending.Push((0, far));
        pending.Push((far, count));
        var squaredTolerance = tolerance * tolerance;
        while (pending.Count > 0)
        {
            var (from, to) = pending.Pop();
            var a = ring[from];
            var b = ring[to % count];
            var worst = -1;
            var worstDistance = squaredTolerance;
            for (var i = from + 1; i < to; i++)
            {
                var distance = SquaredDistanceToSegment(ring[i], a, b);
                if (distance > worstDistance)
                {
                    worstDistance = distance;
                    worst = i;
                }
            }

            if (worst >= 0)
            {
                keep[worst] = true;
                pending.Push((from, worst));
                pending.Push((worst, to));
            }
        }

        var simplified = new List<PolygonPoint>();
        for (var i = 0; i < count; i++)
        {
            if (keep[i])
            {
                simplified.Add(ring[i]);
            }
        }

        return simplified.Count >= 3 ? simplified : ring;
    }

    internal static double SquaredDistanceToSegment(PolygonPoint p, PolygonPoint a, PolygonPoint b)
    {
        var dx = b.X - a.X;
        var dy = b.Y - a.Y;
        var lengthSquared = (dx * dx) + (dy * dy);
        var t = lengthSquared > 0 ? Math.Clamp((((p.X - a.X) * dx) + ((p.Y - a.Y) * dy)) / lengthSquared, 0, 1) : 0;
        var ex = p.X - (a.X + (t * dx));
        var ey = p.Y - (a.Y + (t * dy));
        return (ex * ex) + (ey * ey);
    }
}
