using CellSeg.Imaging.Geometry;
using CellSeg.Imaging.Metrics;

namespace CellSeg.Imaging.Tests.Metrics;

public sealed class PolygonValidatorTests
{
    [Fact]
    public void SquareInsideTheImageIsValid()
    {
        var validation = PolygonValidator.Validate([new(10, 10), new(20, 10), new(20, 20), new(10, 20)], 100, 100);

        Assert.True(validation.IsValid);
        Assert.Empty(validation.Issues);
    }

    [Fact]
    public void PolygonTouchingTheFarImageEdgesIsValid()
    {
        // Vertices lie on pixel corners, so the image's right and bottom edges are at x = width and y = height.
        Assert.True(PolygonValidator.Validate([new(0, 0), new(100, 0), new(100, 80), new(0, 80)], 100, 80).IsValid);
    }

    [Fact]
    public void MissingPolygonIsReported()
    {
        Assert.Equal(PolygonIssueKind.Missing, Assert.Single(PolygonValidator.Validate(null, 10, 10).Issues).Kind);
    }

    [Fact]
    public void TwoDistinctPointsRepeatedAreTooFew()
    {
        var issue = Assert.Single(PolygonValidator.Validate([new(1, 1), new(5, 5), new(5, 5), new(1, 1)], 10, 10).Issues);

        Assert.Equal(PolygonIssueKind.TooFewPoints, issue.Kind);
        Assert.Contains("2 distinct", issue.Reason, StringComparison.Ordinal);
    }

    [Fact]
    public void NaNCoordinateIsReportedWithItsIndex()
    {
        var issue = Assert.Single(PolygonValidator.Validate([new(1, 1), new(5, double.NaN), new(5, 1)], 10, 10).Issues);

        Assert.Equal(PolygonIssueKind.NonFiniteCoordinate, issue.Kind);
        Assert.Contains("Point 1", issue.Reason, StringComparison.Ordinal);
    }

    [Fact]
    public void CollinearPointsHaveZeroArea()
    {
        var validation = PolygonValidator.Validate([new(1, 1), new(3, 3), new(5, 5)], 10, 10, requireSimple: false);

        Assert.Equal(PolygonIssueKind.ZeroArea, Assert.Single(validation.Issues).Kind);
    }

    [Fact]
    public void PointsOutsideTheImageAreCountedAndTheFirstIsNamed()
    {
        var issue = Assert.Single(PolygonValidator.Validate([new(-1, 2), new(5, 2), new(5, 12), new(1, 5)], 10, 10).Issues);

        Assert.Equal(PolygonIssueKind.OutsideImage, issue.Kind);
        Assert.Contains("2 point(s)", issue.Reason, StringComparison.Ordinal);
        Assert.Contains("(-1, 2)", issue.Reason, StringComparison.Ordinal);
    }

    [Fact]
    public void BowTieIsSelfIntersecting()
    {
        PolygonPoint[] bowTie = [new(0, 0), new(10, 10), new(10, 0), new(0, 4)];

        var issue = Assert.Single(PolygonValidator.Validate(bowTie, 20, 20).Issues);

        Assert.Equal(PolygonIssueKind.SelfIntersecting, issue.Kind);
        Assert.True(PolygonValidator.Validate(bowTie, 20, 20, requireSimple: false).IsValid);
    }

    [Fact]
    public void VertexLyingOnANonAdjacentEdgeIsSelfIntersecting()
    {
        // Vertex (5, 0) touches the bottom edge from (0, 0) to (10, 0) in its middle.
        PolygonPoint[] touching = [new(0, 0), new(10, 0), new(10, 10), new(5, 0), new(0, 10)];

        Assert.Equal(PolygonIssueKind.SelfIntersecting, Assert.Single(PolygonValidator.Validate(touching, 20, 20).Issues).Kind);
    }

    [Fact]
    public void EdgeDoublingBackOverAnotherIsSelfIntersecting()
    {
        PolygonPoint[] spike = [new(0, 0), new(10, 0), new(10, 10), new(10, 5), new(10, 2), new(0, 10)];

        Assert.Equal(PolygonIssueKind.SelfIntersecting, Assert.Single(PolygonValidator.Validate(spike, 20, 20).Issues).Kind);
    }

    [Fact]
    public void OutlineVisitingASharedCornerTwiceIsAllowed()
    {
        // Two squares meeting at (10, 10), traced as one outline as for diagonally touching pixels.
        PolygonPoint[] pinched = [new(0, 0), new(10, 0), new(10, 10), new(20, 10), new(20, 20), new(10, 20), new(10, 10), new(0, 10)];

        Assert.True(PolygonValidator.Validate(pinched, 20, 20).IsValid);
    }

    [Fact]
    public void LargeSimplePolygonIsCheckedQuickly()
    {
        // 20 000 vertices on a circle: the sweep only compares edges whose x-ranges overlap.
        var circle = Enumerable.Range(0, 20_000)
            .Select(i => new PolygonPoint(5000 + (4000 * Math.Cos(2 * Math.PI * i / 20_000)), 5000 + (4000 * Math.Sin(2 * Math.PI * i / 20_000))))
            .ToArray();

        var started = System.Diagnostics.Stopwatch.StartNew();
        var validation = PolygonValidator.Validate(circle, 10_000, 10_000);

        Assert.True(validation.IsValid);
        Assert.True(started.Elapsed < TimeSpan.FromSeconds(5), $"validation took {started.Elapsed}");
    }
}
