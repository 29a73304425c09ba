using CellSeg.Imaging.Geometry;

namespace CellSeg.Imaging.Tests.Metrics;

public sealed class PolygonSimplifierTests
{
    [Fact]
    public void StaircaseAlongADiagonalSimplifiesToItsCorners()
    {
        // A right triangle whose hypotenuse is a one-pixel staircase from (10, 0) down to (0, 10).
        var ring = new List<PolygonPoint> { new(0, 0), new(10, 0) };
        for (var step = 10; step > 0; step--)
        {
            ring.Add(new PolygonPoint(step, 10 - step + 1));
            ring.Add(new PolygonPoint(step - 1, 10 - step + 1));
        }

        var simplified = PolygonSimplifier.Simplify(ring, 1.0);

        // The steps deviate at most 0.71 px from the hypotenuse, so only a few corners remain, and every
        // original vertex stays within the tolerance of the simplified outline.
        Assert.InRange(simplified.Count, 3, 4);
        Assert.All(ring, p => Assert.True(DistanceToRing(p, simplified) <= 1.0, $"{p} is {DistanceToRing(p, simplified)} px away"));
    }

    [Fact]
    public void ZeroToleranceReturnsTheRingUnchanged()
    {
        PolygonPoint[] ring = [new(0, 0), new(5, 0.1), new(10, 0), new(10, 10), new(0, 10)];

        Assert.Same(ring, PolygonSimplifier.Simplify(ring, 0));
    }

    [Fact]
    public void VerticesFartherThanTheToleranceAreKept()
    {
        PolygonPoint[] ring = [new(0, 0), new(5, 0.4), new(10, 0), new(10, 10), new(5, 12), new(0, 10)];

        var simplified = PolygonSimplifier.Simplify(ring, 1.0);

        Assert.DoesNotContain(new PolygonPoint(5, 0.4), simplified);
        Assert.Contains(new PolygonPoint(5, 12), simplified);
        Assert.Equal(5, simplified.Count);
    }

    private static double DistanceToRing(PolygonPoint p, IReadOnlyList<PolygonPoint> ring) =>
        Enumerable.Range(0, ring.Count).Min(i => DistanceToSegment(p, ring[i], ring[(i + 1) % ring.Count]));

    private static double DistanceToSegment(PolygonPoint p, PolygonPoint a, PolygonPoint b)
    {
        var (dx, dy) = (b.X - a.X, b.Y - a.Y);
        var t = Math.Clamp((((p.X - a.X) * dx) + ((p.Y - a.Y) * dy)) / ((dx * dx) + (dy * dy)), 0, 1);
        return Math.Sqrt(Math.Pow(p.X - (a.X + (t * dx)), 2) + Math.Pow(p.Y - (a.Y + (t * dy)), 2));
    }
}
