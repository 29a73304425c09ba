using CellSeg.Imaging.Geometry;
using CellSeg.Imaging.Metrics;

namespace CellSeg.Imaging.Tests.Metrics;

public sealed class ObjectMetricsTests
{
    [Fact]
    public void HandDrawnRegularPolygonIsMeasuredAsDrawn()
    {
        // A 24-gon of circumradius 80 at sub-pixel positions: area ½nR²sin(2π/n), side 2R sin(π/n). Each vertex
        // lies 2.7 px off the chord of its neighbours, beyond the 2 px staircase tolerance, so all are kept.
        const int n = 24;
        const double r = 80;
        var polygon = RegularPolygon(n, r, 200.3, 150.7);

        var metrics = ObjectMetrics.FromPolygon(polygon);

        var area = 0.5 * n * r * r * Math.Sin(2 * Math.PI / n);
        var perimeter = 2 * n * r * Math.Sin(Math.PI / n);
        Assert.Equal(area, metrics.Area, 1e-6);
        Assert.Equal(perimeter, metrics.Perimeter, 1e-6);
        Assert.Equal(4 * Math.PI * area / (perimeter * perimeter), metrics.Circularity, 1e-9);
        Assert.Equal(2 * r, metrics.FeretMax, 1e-6);
        Assert.Equal(2 * r * Math.Cos(Math.PI / n), metrics.FeretMin, 1e-6);
        Assert.Equal(1, metrics.Solidity, 1e-9);
        Assert.Equal(1, metrics.Convexity, 1e-9);
        Assert.Equal(200.3, metrics.CentroidX, 1e-9);
        Assert.Equal(150.7, metrics.CentroidY, 1e-9);
    }

    [Fact]
    public void DenseHandDrawnCircleLosesLessThanOnePercentOfItsPerimeterToTheStaircaseTolerance()
    {
        // 200 vertices on a circle of radius 50 (1.6 px apart): the 2 px tolerance replaces arcs by chords.
        var polygon = RegularPolygon(200, 50, 120.5, 90.25);

        var metrics = ObjectMetrics.FromPolygon(polygon);

        var drawn = 2 * 200 * 50 * Math.Sin(Math.PI / 200);
        Assert.InRange(metrics.Perimeter, drawn * 0.99, drawn);
        Assert.Equal(1, metrics.Circularity, 0.02);
    }

    [Fact]
    public void OrientationAndARepeatedClosingVertexDoNotChangeTheMetrics()
    {
        var polygon = RegularPolygon(9, 30, 100, 100);
        var reversed = polygon.AsEnumerable().Reverse().ToList();
        var closed = polygon.Append(polygon[0]).ToList();

        var metrics = ObjectMetrics.FromPolygon(polygon);

        Assert.Equal(metrics.Area, ObjectMetrics.FromPolygon(reversed).Area, 1e-9);
        Assert.Equal(metrics.MajorAxis, ObjectMetrics.FromPolygon(reversed).MajorAxis, 1e-9);
        Assert.Equal(metrics, ObjectMetrics.FromPolygon(closed));
    }

    [Fact]
    public void HoleIsSubtractedFromAreaMomentsAndSolidity()
    {
        // 100 × 100 square with a centred 20 × 20 hole.
        var square = Rectangle(0, 0, 100, 100);
        var hole = Rectangle(40, 40, 20, 20);

        var metrics = ObjectMetrics.FromPolygon(square, [hole]);

        Assert.Equal(9600, metrics.Area, 1e-9);
        Assert.Equal(400, metrics.Perimeter, 1e-9);
        Assert.Equal(0.96, metrics.Solidity, 1e-9);
        Assert.Equal(0.96, metrics.Extent, 1e-9);
        Assert.Equal((50, 50), (metrics.CentroidX, metrics.CentroidY));

        // Second moment about the centre: (100⁴ − 20⁴) / 12 over the area 9600, the same along both axes.
        var variance = (Math.Pow(100, 4) - Math.Pow(20, 4)) / 12 / 9600;
        Assert.Equal(4 * Math.Sqrt(variance), metrics.MajorAxis, 1e-9);
        Assert.Equal(4 * Math.Sqrt(variance), metrics.MinorAxis, 1e-9);
    }

    [Fact]
    public void LShapeHasTheAnalyticSolidityAndConvexityBelowOne()
    {
        // Three 10 × 10 squares in an L; hull (0,0) (20,0) (20,10) (10,20) (0,20) has area 350.
        PolygonPoint[] l = [new(0, 0), new(20, 0), new(20, 10), new(10, 10), new(10, 20), new(0, 20)];

        var metrics = ObjectMetrics.FromPolygon(l);

        Assert.Equal(300, metrics.Area, 1e-9);
        Assert.Equal(80, metrics.Perimeter, 1e-9);
        Assert.Equal(350, metrics.ConvexHullArea, 1e-9);
        Assert.Equal(300.0 / 350, metrics.Solidity, 1e-9);
        Assert.Equal((60 + Math.Sqrt(200)) / 80, metrics.Convexity, 1e-9);
    }

    [Fact]
    public void RotatedRectangleHasFeretDiagonalAndShortSide()
    {
        var angle = 0.4;
        var (cos, sin) = (Math.Cos(angle), Math.Sin(angle));
        PolygonPoint Corner(double u, double v) => new(300 + (u * cos) - (v * sin), 200 + (u * sin) + (v * cos));
        PolygonPoint[] rectangle = [Corner(-40, -15), Corner(40, -15), Corner(40, 15), Corner(-40, 15)];

        var metrics = ObjectMetrics.FromPolygon(rectangle);

        Assert.Equal(Math.Sqrt((80 * 80) + (30 * 30)), metrics.FeretMax, 1e-9);
        Assert.Equal(30, metrics.FeretMin, 1e-9);
        Assert.Equal(2400, metrics.Area, 1e-9);
        Assert.Equal(220, metrics.Perimeter, 1e-9);
        Assert.Equal(30.0 / 80, metrics.Sphericity, 1e-9);
    }

    [Fact]
    public void FeretDiametersMatchABruteForceSearchOverDirections()
    {
        var random = new Random(3);
        for (var trial = 0; trial < 20; trial++)
        {
            var polygon = Enumerable.Range(0, 12)
                .Select(i => (Angle: (2 * Math.PI * i / 12) + (random.NextDouble() * 0.4), Radius: 20 + (random.NextDouble() * 60)))
                .Select(p => new PolygonPoint(100 + (p.Radius * Math.Cos(p.Angle)), 100 + (p.Radius * Math.Sin(p.Angle))))
                .ToArray();

            var metrics = ObjectMetrics.FromPolygon(polygon);

            // Caliper width in direction θ is the spread of projections; sample θ finely.
            var widths = Enumerable.Range(0, 20000).Select(k => Width(polygon, Math.PI * k / 20000)).ToArray();
            Assert.Equal(widths.Max(), metrics.FeretMax, 0.01);
            Assert.Equal(widths.Min(), metrics.FeretMin, 0.01);
        }
    }

    [Fact]
    public void ScaleMultipliesLengthsBySAndAreasBySSquaredAndLeavesRatios()
    {
        var polygon = RegularPolygon(7, 25, 60, 80);
        const double s = 0.325;

        var pixels = ObjectMetrics.FromPolygon(polygon);
        var micrometres = ObjectMetrics.FromPolygon(polygon, null, s);

        Assert.Equal(pixels.Area * s * s, micrometres.Area, 1e-9);
        Assert.Equal(pixels.Perimeter * s, micrometres.Perimeter, 1e-9);
        Assert.Equal(pixels.EquivalentDiameter * s, micrometres.EquivalentDiameter, 1e-9);
        Assert.Equal(pixels.FeretMin * s, micrometres.FeretMin, 1e-9);
        Assert.Equal(pixels.MinorAxis * s, micrometres.MinorAxis, 1e-9);
        Assert.Equal(pixels.CentroidX * s, micrometres.CentroidX, 1e-9);
        Assert.Equal(pixels.BoundingBox.X * s, micrometres.BoundingBox.X, 1e-9);
        Assert.Equal(pixels.BoundingBox.Height * s, micrometres.BoundingBox.Height, 1e-9);
        Assert.Equal(pixels.Circularity, micrometres.Circularity, 1e-12);
        Assert.Equal(pixels.FeretAspectRatio, micrometres.FeretAspectRatio, 1e-12);
        Assert.Equal(pixels.Compactness, micrometres.Compactness, 1e-12);
    }

    [Fact]
    public void MeasuringAPolygonWithTooFewPointsThrows()
    {
        var exception = Assert.Throws<ArgumentException>(() => ObjectMetrics.FromPolygon([new(0, 0), new(5, 5), new(0, 0)]));

        Assert.Contains("3 distinct", exception.Message, StringComparison.Ordinal);
    }

    [Fact]
    public void NonPositiveScaleIsRejected()
    {
        Assert.Throws<ArgumentOutOfRangeException>(() => ObjectMetrics.FromPolygon(Rectangle(0, 0, 5, 5), null, 0));
    }

    private static PolygonPoint[] RegularPolygon(int n, double r, double cx, double cy) =>
        [.. Enumerable.Range(0, n).Select(i => new PolygonPoint(cx + (r * Math.Cos(2 * Math.PI * i / n)), cy + (r * Math.Sin(2 * Math.PI * i / n))))];

    private static PolygonPoint[] Rectangle(double x, double y, double width, double height) =>
        [new(x, y), new(x + width, y), new(x + width, y + height), new(x, y + height)];

    private static double Width(PolygonPoint[] polygon, double theta)
    {
        var projections = polygon.Select(p => (p.X * Math.Cos(theta)) + (p.Y * Math.Sin(theta))).ToArray();
        return projections.Max() - projections.Min();
    }
}
