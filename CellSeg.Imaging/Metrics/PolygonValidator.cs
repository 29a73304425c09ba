using CellSeg.Imaging.Geometry;

namespace CellSeg.Imaging.Metrics;

public enum PolygonIssueKind
{
    Missing,
    NonFiniteCoordinate,
    TooFewPoints,
    ZeroArea,
    OutsideImage,
    SelfIntersecting,
}

/// <summary>One reason a polygon cannot be accepted, worded for the person who edited it.</summary>
public sealed record PolygonIssue(PolygonIssueKind Kind, string Reason);

public sealed record PolygonValidation(IReadOnlyList<PolygonIssue> Issues)
{
    public bool IsValid => Issues.Count == 0;
}

/// <summary>Checks a polygon (typically edited by hand) before it is stored or measured.</summary>
public static class PolygonValidator
{
    /// <summary>
    /// Checks that <paramref name="points"/> form a closed ring (the first vertex may or may not be repeated at the
    /// end) with at least 3 distinct vertices, finite coordinates, non-zero area and every vertex inside the image,
    /// whose corners are (0, 0) and (<paramref name="imageWidth"/>, <paramref name="imageHeight"/>). With
    /// <paramref name="requireSimple"/>, edges must not cross or overlap and no vertex may lie on a non-adjacent
    /// edge; two visits of the same vertex are allowed, as where pixels touching diagonally join one outline.
    /// </summary>
    public static PolygonValidation Validate(
        IReadOnlyList<PolygonPoint>? points, int imageWidth, int imageHeight, bool requireSimple = true)
    {
        var issues = new List<PolygonIssue>();
        if (points is null || points.Count == 0)
        {
            issues.Add(new PolygonIssue(PolygonIssueKind.Missing, "The polygon has no points."));
            return new PolygonValidation(issues);
        }

        for (var i = 0; i < points.Count; i++)
        {
            if (!double.IsFinite(points[i].X) || !double.IsFinite(points[i].Y))
            {
                issues.Add(new PolygonIssue(PolygonIssueKind.NonFiniteCoordinate, $"Point {i} has a coordinate that is not a finite number."));
                return new PolygonValidation(issues);
            }
        }

        var ring = WithoutRepeats(points);
        if (ring.Count < 3)
        {
            issues.Add(new PolygonIssue(
                PolygonIssueKind.TooFewPoints, $"The polygon has {ring.Count} distinct point(s); at least 3 are needed."));
            return new PolygonValidation(issues);
        }

        if (Math.Abs(PolygonRing.SignedArea(ring)) < 1e-9)
        {
            issues.Add(new PolygonIssue(PolygonIssueKind.ZeroArea, "The polygon encloses no area (its points are collinear)."));
        }

        var outside = 0;
        var firstOutside = -1;
        for (var i = 0; i < ring.Count; i++)
        {
            var p = ring[i];
            if (p.X < 0 || p.Y < 0 || p.X > imageWidth || p.Y > imageHeight)
            {
                outside++;
                firstOutside = firstOutside < 0 ? i : firstOutside;
            }
        }

        if (outside > 0)
        {
            var p = ring[firstOutside];
            issues.Add(new PolygonIssue(
                PolygonIssueKind.OutsideImage,
                $"{outside} point(s) lie outside the {imageWidth} × {imageHeight} image, the first at ({p.X}, {p.Y})."));
        }

        if (requireSimple && FirstCrossing(ring) is var (a, b))
        {
            issues.Add(new PolygonIssue(
                PolygonIssueKind.SelfIntersecting,
                $"The polygon intersects itself: the edge starting at point {a} meets the edge starting at point {b}."));
        }

        return new PolygonValidation(issues);
    }

    private static List<PolygonPoint> WithoutRepeats(IReadOnlyList<PolygonPoint> points)
    {
        var ring = new List<PolygonPoint>(points.Count);
        foreach (var point in points)
        {
            if (ring.Count == 0 || ring[^1] != point)
            {
                ring.Add(point);
            }
        }

        while (ring.Count > 1 && ring[^1] == ring[0])
        {
            ring.RemoveAt(ring.Count - 1);
        }

        return ring;
    }

    /// <summary>
    /// The first pair of non-adjacent edges that cross, found by a sweep over edges sorted by their left end:
    /// only edges whose x-ranges overlap are compared.
    /// </summary>
    private static (int, int)? FirstCrossing(List<PolygonPoint> ring)
    {
        var n = ring.Count;
        var edges = new int[n];
        for (var i = 0; i < n; i++)
        {
            edges[i] = i;
        }

        Array.Sort(edges, (a, b) => MinX(ring, a).CompareTo(MinX(ring, b)));
        var active = new List<int>();
        foreach (var edge in edges)
        {
            var left = MinX(ring, edge);
            active.RemoveAll(other => MaxX(ring, other) < left);
            foreach (var other in active)
            {
                var adjacent = other == (edge + 1) % n || edge == (other + 1) % n;
                if (!adjacent && Intersect(ring[edge], ring[(edge + 1) % n], ring[other], ring[(other + 1) % n]))
                {
                    return (Math.Min(edge, other), Math.Max(edge, other));
                }
            }

            active.Add(edge);
        }

        return null;
    }

    private static double MinX(List<PolygonPoint> ring, int edge) => Math.Min(ring[edge].X, ring[(edge + 1) % ring.Count].X);

    private static double MaxX(List<PolygonPoint> ring, int edge) => Math.Max(ring[edge].X, ring[(edge + 1) % ring.Count].X);

    private static bool Intersect(PolygonPoint a, PolygonPoint b, PolygonPoint c, PolygonPoint d)
    {
        var c1 = Math.Sign(ConvexHull.Cross(a, b, c));
        var c2 = Math.Sign(ConvexHull.Cross(a, b, d));
        var c3 = Math.Sign(ConvexHull.Cross(c, d, a));
        var c4 = Math.Sign(ConvexHull.Cross(c, d, b));
        if (c1 * c2 < 0 && c3 * c4 < 0)
        {
            return true;
        }

        if (c1 == 0 && c2 == 0)
        {
            // Collinear: they overlap unless they meet in at most one shared end point.
            var (lowAB, highAB) = Order(Along(a, b, a), Along(a, b, b));
            var (lowCD, highCD) = Order(Along(a, b, c), Along(a, b, d));
            return Math.Min(highAB, highCD) > Math.Max(lowAB, lowCD);
        }

        // Touching: allowed only where end points coincide.
        return (c1 == 0 && OnSegmentInterior(c, a, b))
            || (c2 == 0 && OnSegmentInterior(d, a, b))
            || (c3 == 0 && OnSegmentInterior(a, c, d))
            || (c4 == 0 && OnSegmentInterior(b, c, d));
    }

    private static double Along(PolygonPoint a, PolygonPoint b, PolygonPoint p) => ((p.X - a.X) * (b.X - a.X)) + ((p.Y - a.Y) * (b.Y - a.Y));

    private static (double, double) Order(double x, double y) => x <= y ? (x, y) : (y, x);

    private static bool OnSegmentInterior(PolygonPoint p, PolygonPoint a, PolygonPoint b) =>
        p != a && p != b
        && p.X >= Math.Min(a.X, b.X) && p.X <= Math.Max(a.X, b.X)
        && p.Y >= Math.Min(a.Y, b.Y) && p.Y <= Math.Max(a.Y, b.Y);
}
