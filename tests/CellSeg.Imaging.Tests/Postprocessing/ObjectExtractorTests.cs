using CellSeg.Imaging.Geometry;
using CellSeg.Imaging.Metrics;
using CellSeg.Imaging.Postprocessing;
using static CellSeg.Imaging.Tests.Postprocessing.ProbabilityMaps;

namespace CellSeg.Imaging.Tests.Postprocessing;

public sealed class ObjectExtractorTests
{
    private static readonly PostProcessingOptions KeepEverything = new() { MinObjectArea = 0 };

    [Theory]
    [InlineData(20)]
    [InlineData(50)]
    [InlineData(100)]
    public void DiskAreaIsWithinOnePercentOfPiRSquaredAndEqualsItsPixelCount(double r)
    {
        var size = (int)(2 * r) + 20;
        var map = Draw(size, size, Disk((size / 2.0) + 0.3, (size / 2.0) - 0.2, r));

        var disk = Assert.Single(ObjectExtractor.Extract(map, size, size, size, size));

        Assert.Equal(Count(map), ProbabilityMaps.SignedArea(disk.Points));
        Assert.Equal(Math.PI * r * r, disk.Metrics!.Area, Math.PI * r * r * 0.01);
    }

    [Theory]
    [InlineData(20)]
    [InlineData(50)]
    [InlineData(100)]
    public void DiskPerimeterIsWithinThreePercentAndCircularityWithinPoint03OfOne(double r)
    {
        var size = (int)(2 * r) + 20;
        var map = Draw(size, size, Disk((size / 2.0) + 0.3, (size / 2.0) - 0.2, r));

        var metrics = Assert.Single(ObjectExtractor.Extract(map, size, size, size, size)).Metrics!;

        Assert.Equal(2 * Math.PI * r, metrics.Perimeter, 2 * Math.PI * r * 0.03);
        Assert.Equal(1, metrics.Circularity, 0.03);
    }

    [Theory]
    [InlineData(20)]
    [InlineData(50)]
    [InlineData(100)]
    public void DiskDiametersAxesAndConvexityMeasuresAreThoseOfACircle(double r)
    {
        var size = (int)(2 * r) + 20;
        var cx = (size / 2.0) + 0.3;
        var cy = (size / 2.0) - 0.2;
        var metrics = Assert.Single(ObjectExtractor.Extract(Draw(size, size, Disk(cx, cy, r)), size, size, size, size)).Metrics!;

        // Diameters within 1% plus one pixel: the outline follows pixel edges, half a pixel outside the centres.
        var diameterTolerance = (0.01 * 2 * r) + 1;
        Assert.Equal(2 * r, metrics.EquivalentDiameter, 0.01 * 2 * r);
        Assert.Equal(2 * r, metrics.FeretMax, diameterTolerance);
        Assert.Equal(2 * r, metrics.FeretMin, diameterTolerance);
        Assert.Equal(2 * r, metrics.MajorAxis, 0.01 * 2 * r);
        Assert.Equal(2 * r, metrics.MinorAxis, 0.01 * 2 * r);
        Assert.Equal(1, metrics.Sphericity, 0.02);
        Assert.Equal(1, metrics.FeretAspectRatio, 0.05);
        Assert.Equal(1, metrics.Compactness, 0.03);
        Assert.Equal(1, metrics.Solidity, 0.01);
        Assert.Equal(1, metrics.Convexity, 0.01);
        Assert.Equal(Math.PI / 4, metrics.Extent, 0.02);
        Assert.Equal(cx, metrics.CentroidX, 0.1);
        Assert.Equal(cy, metrics.CentroidY, 0.1);
    }

    [Fact]
    public void RectangleMetricsAreExact()
    {
        // 60 × 30 pixels at (20, 40): a pixel-edge outline measures an axis-aligned rectangle without error.
        var map = Draw(120, 100, Rectangle(20, 40, 60, 30));

        var metrics = Assert.Single(ObjectExtractor.Extract(map, 120, 100, 120, 100)).Metrics!;

        Assert.Equal(1800, metrics.Area, 1e-9);
        Assert.Equal(180, metrics.Perimeter, 1e-9);
        Assert.Equal(4 * Math.PI * 1800 / (180.0 * 180), metrics.Circularity, 1e-9);
        Assert.Equal(Math.Sqrt((60 * 60) + (30 * 30)), metrics.FeretMax, 1e-9);
        Assert.Equal(30, metrics.FeretMin, 1e-9);
        Assert.Equal(Math.Sqrt(4500) / 30, metrics.FeretAspectRatio, 1e-9);
        Assert.Equal(new BoundingBox(20, 40, 60, 30), metrics.BoundingBox);
        Assert.Equal(1, metrics.Extent, 1e-9);
        Assert.Equal(1, metrics.Solidity, 1e-9);
        Assert.Equal(1, metrics.Convexity, 1e-9);

        // A uniform w × h rectangle has variances w²/12 and h²/12; the same-moment ellipse has axes 4√(variance).
        Assert.Equal(4 * Math.Sqrt(3600 / 12.0), metrics.MajorAxis, 1e-9);
        Assert.Equal(4 * Math.Sqrt(900 / 12.0), metrics.MinorAxis, 1e-9);
        Assert.Equal(0.5, metrics.Sphericity, 1e-9);
        Assert.Equal(2 * Math.Sqrt(1800 / Math.PI) / Math.Sqrt(4500), metrics.Compactness, 1e-9);
        Assert.Equal((50, 55), (metrics.CentroidX, metrics.CentroidY));
    }

    [Fact]
    public void RectanglePolygonHasItsFourCornersOnPixelEdgesClockwiseOnScreen()
    {
        var map = Draw(50, 40, Rectangle(5, 7, 10, 4));

        var rectangle = Assert.Single(ObjectExtractor.Extract(map, 50, 40, 50, 40, KeepEverything));

        Assert.Equal([new(5, 7), new(15, 7), new(15, 11), new(5, 11)], rectangle.Points);
    }

    [Fact]
    public void RingGivesOneExternalAndOneInternalPolygonWithTheRightParent()
    {
        var map = Draw(120, 120, Ring(60, 60, 40, 20));

        var objects = ObjectExtractor.Extract(map, 120, 120, 120, 120);

        Assert.Equal(2, objects.Count);
        var (external, hole) = (objects[0], objects[1]);
        Assert.Equal(ObjectKind.External, external.Kind);
        Assert.Null(external.ParentId);
        Assert.Equal(ObjectKind.Internal, hole.Kind);
        Assert.Equal(external.Id, hole.ParentId);
        Assert.NotEqual(external.Id, hole.Id);
        Assert.Null(hole.Metrics);

        // Area within 1% of π(R² − r²), and exactly the ring's pixel count.
        Assert.Equal(Math.PI * ((40 * 40) - (20 * 20)), external.Metrics!.Area, Math.PI * 1200 * 0.01);
        Assert.Equal(Count(map), external.Metrics.Area, 1e-9);
        Assert.Equal(Math.PI * 20 * 20, -ProbabilityMaps.SignedArea(hole.Points), Math.PI * 400 * 0.02);
        Assert.True(ProbabilityMaps.SignedArea(external.Points) > 0, "external rings are clockwise on screen");
        Assert.True(ProbabilityMaps.SignedArea(hole.Points) < 0, "hole rings are counter-clockwise on screen");

        // Solidity of an annulus: (R² − r²) / R², within 2%.
        Assert.Equal(0.75, external.Metrics.Solidity, 0.02);
    }

    [Fact]
    public void RingWithoutHoleDetectionGivesOneObjectWhoseAreaIncludesTheHole()
    {
        var map = Draw(120, 120, Ring(60, 60, 40, 20));

        var objects = ObjectExtractor.Extract(map, 120, 120, 120, 120, new PostProcessingOptions { DetectHoles = false });

        var disk = Assert.Single(objects);
        Assert.Equal(Count(Draw(120, 120, Disk(60, 60, 40))), disk.Metrics!.Area, 1e-9);
        Assert.Equal(1, disk.Metrics.Solidity, 0.01);
    }

    [Fact]
    public void TwoSeparateDisksGiveTwoObjectsInRasterOrder()
    {
        var map = Draw(200, 100, Disk(150, 40, 15));
        Paint(map, 200, Disk(50, 60, 20));

        var objects = ObjectExtractor.Extract(map, 200, 100, 200, 100);

        Assert.Equal(2, objects.Count);
        Assert.Equal([1, 2], objects.Select(o => o.Id));
        Assert.Equal(150, objects[0].Metrics!.CentroidX, 0.1);
        Assert.Equal(50, objects[1].Metrics!.CentroidX, 0.1);
        Assert.All(objects, o => Assert.Equal(ObjectKind.External, o.Kind));
    }

    [Fact]
    public void SquaresTouchingOnlyAtACornerMergeIntoOneObject()
    {
        // 8-connectivity: pixel (19, 19) and pixel (20, 20) touch diagonally.
        var map = Draw(60, 60, Rectangle(10, 10, 10, 10));
        Paint(map, 60, Rectangle(20, 20, 10, 10));

        var merged = Assert.Single(ObjectExtractor.Extract(map, 60, 60, 60, 60));

        Assert.Equal(200, merged.Metrics!.Area, 1e-9);

        // The outline passes through the shared corner twice.
        Assert.Equal(2, merged.Points.Count(p => p == new PolygonPoint(20, 20)));
    }

    [Fact]
    public void BackgroundTouchingOnlyAtACornerIsTwoHoles()
    {
        // 4-connectivity for background: two hole pixels meeting at a corner are separate holes.
        var map = Draw(20, 20, Rectangle(4, 4, 8, 8));
        map[(6 * 20) + 6] = 0;
        map[(7 * 20) + 7] = 0;

        var objects = ObjectExtractor.Extract(map, 20, 20, 20, 20, KeepEverything);

        Assert.Equal(3, objects.Count);
        Assert.Equal(2, objects.Count(o => o.Kind == ObjectKind.Internal && o.ParentId == objects[0].Id));
        Assert.Equal(62, objects[0].Metrics!.Area, 1e-9);
    }

    [Fact]
    public void ObjectsSmallerThanMinObjectAreaAreDropped()
    {
        // Disk of radius 3 (29 pixels) and one of radius 10 (317 pixels), with the default minimum of 50 px².
        var map = Draw(100, 100, Disk(20, 20, 3));
        Paint(map, 100, Disk(60, 60, 10));

        var kept = Assert.Single(ObjectExtractor.Extract(map, 100, 100, 100, 100));

        Assert.Equal(60, kept.Metrics!.CentroidX, 0.1);
    }

    [Fact]
    public void HoleSmallerThanMinObjectAreaIsFilledAndCountsTowardsTheArea()
    {
        // A 5 × 5 hole (25 px²) in a 30 × 30 square; the minimum is 50 px².
        var map = Draw(60, 60, Rectangle(10, 10, 30, 30));
        for (var y = 20; y < 25; y++)
        {
            for (var x = 20; x < 25; x++)
            {
                map[(y * 60) + x] = 0;
            }
        }

        var square = Assert.Single(ObjectExtractor.Extract(map, 60, 60, 60, 60));

        Assert.Equal(ObjectKind.External, square.Kind);
        Assert.Equal(900, square.Metrics!.Area, 1e-9);
    }

    [Fact]
    public void HoleAtLeastMinObjectAreaIsKept()
    {
        var map = Draw(60, 60, Rectangle(10, 10, 30, 30));
        for (var y = 20; y < 28; y++)
        {
            for (var x = 20; x < 28; x++)
            {
                map[(y * 60) + x] = 0;
            }
        }

        var objects = ObjectExtractor.Extract(map, 60, 60, 60, 60);

        Assert.Equal(2, objects.Count);
        Assert.Equal(900 - 64, objects[0].Metrics!.Area, 1e-9);
        Assert.Equal([new(20, 20), new(20, 28), new(28, 28), new(28, 20)], objects[1].Points);
    }

    [Fact]
    public void ObjectTouchingTheImageCornerIsTracedAlongTheBorder()
    {
        var map = Draw(50, 40, Rectangle(0, 0, 20, 15));

        var corner = Assert.Single(ObjectExtractor.Extract(map, 50, 40, 50, 40));

        Assert.Equal([new(0, 0), new(20, 0), new(20, 15), new(0, 15)], corner.Points);
        Assert.Equal(300, corner.Metrics!.Area, 1e-9);
    }

    [Fact]
    public void ObjectTouchingTheRightAndBottomBordersIsTracedAlongThem()
    {
        var map = Draw(50, 40, Rectangle(30, 25, 20, 15));

        var corner = Assert.Single(ObjectExtractor.Extract(map, 50, 40, 50, 40));

        Assert.Equal([new(30, 25), new(50, 25), new(50, 40), new(30, 40)], corner.Points);
    }

    [Fact]
    public void BackgroundCutOffByAnObjectAlongTheBorderIsNotAHole()
    {
        // A U open to the top border: the background inside it reaches the border, so there is no hole.
        var map = Draw(40, 40, Rectangle(10, 0, 20, 30));
        Paint(map, 40, Rectangle(15, 0, 10, 25), 0f);

        var u = Assert.Single(ObjectExtractor.Extract(map, 40, 40, 40, 40));

        Assert.Equal(600 - 250, u.Metrics!.Area, 1e-9);
    }

    [Fact]
    public void EmptyMapGivesNoObjects()
    {
        Assert.Empty(ObjectExtractor.Extract(new float[64 * 48], 64, 48, 640, 480));
    }

    [Fact]
    public void FullMapGivesOneObjectCoveringTheImage()
    {
        var map = Enumerable.Repeat(0.9f, 32 * 32).ToArray();

        var all = Assert.Single(ObjectExtractor.Extract(map, 32, 32, 100, 80));

        Assert.Equal([new(0, 0), new(100, 0), new(100, 80), new(0, 80)], all.Points);
        Assert.Equal(8000, all.Metrics!.Area, 1e-9);
        Assert.Equal(0.9, all.Confidence, 1e-6);
    }

    [Fact]
    public void MapAt256IsResizedToA1024By768ImageWithTheObjectInPlaceAndScaledArea()
    {
        // A disk of radius 32 map pixels centred in the map becomes an ellipse with semi-axes 128 and 96.
        var map = Draw(256, 256, Disk(128, 128, 32));

        var ellipse = Assert.Single(ObjectExtractor.Extract(map, 256, 256, 1024, 768)).Metrics!;

        Assert.Equal(512, ellipse.CentroidX, 0.5);
        Assert.Equal(384, ellipse.CentroidY, 0.5);
        Assert.Equal(Math.PI * 128 * 96, ellipse.Area, Math.PI * 128 * 96 * 0.02);
        Assert.Equal(256, ellipse.MajorAxis, 256 * 0.02);
        Assert.Equal(192, ellipse.MinorAxis, 192 * 0.02);
        Assert.Equal(256, ellipse.BoundingBox.Width, 4);
        Assert.Equal(192, ellipse.BoundingBox.Height, 4);
    }

    [Fact]
    public void BilinearResizeOfTheMapUsesHalfPixelCentres()
    {
        // Map [0, 1] over two columns resized to four: samples at 0, 0.25, 0.75, 1 (clamped at the ends).
        // With threshold 0.5 only the two right columns are foreground.
        var objects = ObjectExtractor.Extract([0f, 1f], 2, 1, 4, 1, KeepEverything);

        Assert.Equal([new(2, 0), new(4, 0), new(4, 1), new(2, 1)], Assert.Single(objects).Points);
        Assert.Equal((0.75 + 1) / 2, objects[0].Confidence, 1e-6);
    }

    [Fact]
    public void ConfidenceIsTheMeanProbabilityOverTheObjectsPixels()
    {
        // Top half 0.8, bottom half 0.6 of a 20 × 20 square: mean 0.7.
        var map = Draw(40, 40, Rectangle(10, 10, 20, 10), 0.8f);
        Paint(map, 40, Rectangle(10, 20, 20, 10), 0.6f);

        var objects = ObjectExtractor.Extract(map, 40, 40, 40, 40);

        Assert.Equal(0.7, Assert.Single(objects).Confidence, 1e-6);
    }

    [Fact]
    public void HoleCarriesItsParentsConfidence()
    {
        var map = Draw(120, 120, Ring(60, 60, 40, 20), 0.75f);

        var objects = ObjectExtractor.Extract(map, 120, 120, 120, 120);

        Assert.Equal(0.75, objects[0].Confidence, 1e-6);
        Assert.Equal(objects[0].Confidence, objects[1].Confidence);
    }

    [Fact]
    public void ProbabilityEqualToTheThresholdIsForeground()
    {
        var map = Draw(30, 30, Rectangle(5, 5, 10, 10), 0.5f);

        Assert.Single(ObjectExtractor.Extract(map, 30, 30, 30, 30));
        Assert.Empty(ObjectExtractor.Extract(map, 30, 30, 30, 30, new PostProcessingOptions { Threshold = 0.51f }));
    }

    [Fact]
    public void IslandInsideAHoleIsAnObjectOfItsOwn()
    {
        var map = Draw(160, 160, Ring(80, 80, 60, 40));
        Paint(map, 160, Disk(80, 80, 15));

        var objects = ObjectExtractor.Extract(map, 160, 160, 160, 160);

        Assert.Equal([ObjectKind.External, ObjectKind.Internal, ObjectKind.External], objects.Select(o => o.Kind));
        Assert.Equal(1, objects[1].ParentId);
        Assert.Null(objects[2].ParentId);
        Assert.Equal(Math.PI * 15 * 15, objects[2].Metrics!.Area, Math.PI * 225 * 0.02);
    }

    [Fact]
    public void IslandInsideAFilledHoleBecomesPartOfTheFilledObject()
    {
        var map = Draw(160, 160, Ring(80, 80, 60, 40));
        Paint(map, 160, Disk(80, 80, 15));

        var objects = ObjectExtractor.Extract(map, 160, 160, 160, 160, new PostProcessingOptions { DetectHoles = false });

        var filled = Assert.Single(objects);
        Assert.Equal(Count(Draw(160, 160, Disk(80, 80, 60))), filled.Metrics!.Area, 1e-9);
    }

    [Fact]
    public void ScaleMultipliesLengthsBySAndAreasBySSquared()
    {
        var map = Draw(120, 120, Ring(60, 60, 40, 20));
        const double s = 0.65;

        var pixels = ObjectExtractor.Extract(map, 120, 120, 120, 120)[0].Metrics!;
        var micrometres = ObjectExtractor.Extract(map, 120, 120, 120, 120, new PostProcessingOptions { Scale = s })[0].Metrics!;

        Assert.Equal(pixels.Area * s * s, micrometres.Area, 1e-9);
        Assert.Equal(pixels.ConvexHullArea * s * s, micrometres.ConvexHullArea, 1e-9);
        Assert.Equal(pixels.Perimeter * s, micrometres.Perimeter, 1e-9);
        Assert.Equal(pixels.EquivalentDiameter * s, micrometres.EquivalentDiameter, 1e-9);
        Assert.Equal(pixels.FeretMax * s, micrometres.FeretMax, 1e-9);
        Assert.Equal(pixels.MajorAxis * s, micrometres.MajorAxis, 1e-9);
        Assert.Equal(pixels.BoundingBox.Width * s, micrometres.BoundingBox.Width, 1e-9);
        Assert.Equal(pixels.Circularity, micrometres.Circularity, 1e-12);
        Assert.Equal(pixels.Solidity, micrometres.Solidity, 1e-12);
    }

    [Fact]
    public void SimplificationKeepsFewerVerticesAndTheAreaWithinOnePercent()
    {
        var map = Draw(240, 240, Disk(120, 120, 100));

        var raw = Assert.Single(ObjectExtractor.Extract(map, 240, 240, 240, 240));
        var simplified = Assert.Single(ObjectExtractor.Extract(map, 240, 240, 240, 240, new PostProcessingOptions { SimplifyTolerance = 1 }));

        Assert.True(simplified.Points.Count < raw.Points.Count / 3, $"{simplified.Points.Count} vertices from {raw.Points.Count}");
        Assert.Equal(raw.Metrics!.Area, simplified.Metrics!.Area, raw.Metrics.Area * 0.01);
        Assert.Equal(raw.Metrics.Perimeter, simplified.Metrics.Perimeter, raw.Metrics.Perimeter * 0.01);
    }

    [Fact]
    public void ExtractedPolygonsPassTheValidator()
    {
        var map = Draw(160, 160, Ring(80, 80, 60, 40));
        Paint(map, 160, Rectangle(5, 5, 10, 10));
        Paint(map, 160, Rectangle(15, 15, 10, 10));

        var objects = ObjectExtractor.Extract(map, 160, 160, 160, 160);

        Assert.Equal(3, objects.Count);
        Assert.All(objects, o => Assert.True(PolygonValidator.Validate(o.Points, 160, 160).IsValid, $"object {o.Id}"));
    }

    [Fact]
    public void ResultSerialisesToJson()
    {
        var objects = ObjectExtractor.Extract(Draw(120, 120, Ring(60, 60, 40, 20)), 120, 120, 120, 120);

        var json = System.Text.Json.JsonSerializer.Serialize(objects);

        Assert.Contains("\"Kind\":1", json, StringComparison.Ordinal);
        Assert.Contains("\"ParentId\":1", json, StringComparison.Ordinal);
        Assert.Contains("\"FeretMax\":", json, StringComparison.Ordinal);
    }
}
