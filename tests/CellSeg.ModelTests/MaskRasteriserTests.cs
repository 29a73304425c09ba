using CellSeg.Imaging.Postprocessing;
using CellSeg.LoadGen.Quality;

namespace CellSeg.ModelTests;

/// <summary>The scores are only as good as the polygons-to-pixels step, so it is checked against exact pixel sets.</summary>
public sealed class MaskRasteriserTests
{
    private const int Size = 120;

    [Fact]
    public void RasterisedPolygonsGiveBackTheThresholdedMaskWithSmallSpecksDroppedAndSmallHolesFilled()
    {
        // A ring with a large hole and an island in it, a disk with a 9-pixel hole, and a 4-pixel speck.
        bool Ring(int x, int y) => Within(x, y, 40, 40, 30) && !Within(x, y, 40, 40, 15);
        bool Island(int x, int y) => Within(x, y, 40, 40, 6);
        bool Disk(int x, int y) => Within(x, y, 95, 95, 12) && !(Math.Abs(x - 95) <= 1 && Math.Abs(y - 95) <= 1);
        bool Speck(int x, int y) => x is >= 100 and < 102 && y is >= 10 and < 12;
        var map = Map((x, y) => Ring(x, y) || Island(x, y) || Disk(x, y) || Speck(x, y));

        var objects = ObjectExtractor.Extract(map, Size, Size, Size, Size, QualityEvaluator.ServiceDefaults(0.5f));
        var (labels, count) = MaskRasteriser.LabelObjects(objects, Size, Size);

        Assert.Equal(3, count);
        Assert.Single(objects, o => o.Kind == ObjectKind.Internal);
        for (var y = 0; y < Size; y++)
        {
            for (var x = 0; x < Size; x++)
            {
                var expected = Ring(x, y) || Island(x, y) || Within(x, y, 95, 95, 12);
                Assert.True(expected == (labels[(y * Size) + x] > 0), $"pixel ({x}, {y}) should be {(expected ? "inside" : "outside")}");
            }
        }

        // The island sits in the ring's hole: its own object, not part of the ring.
        Assert.NotEqual(labels[(40 * Size) + 40], labels[(40 * Size) + 15]);
    }

    [Fact]
    public void PixelIsInsideExactlyWhenItsCentreIsInsideTheCornerPolygon()
    {
        var labels = new int[10 * 10];
        MaskRasteriser.Fill([[new(2, 3), new(5, 3), new(5, 7), new(2, 7)]], 10, 10, labels, 1);

        Assert.Equal(12, labels.Count(l => l == 1));
        Assert.Equal(1, labels[(3 * 10) + 2]);
        Assert.Equal(1, labels[(6 * 10) + 4]);
        Assert.Equal(0, labels[(7 * 10) + 4]);
        Assert.Equal(0, labels[(5 * 10) + 5]);
    }

    private static bool Within(int x, int y, double cx, double cy, double r) =>
        ((x + 0.5 - cx) * (x + 0.5 - cx)) + ((y + 0.5 - cy) * (y + 0.5 - cy)) <= r * r;

    private static float[] Map(Func<int, int, bool> foreground)
    {
        var map = new float[Size * Size];
        for (var y = 0; y < Size; y++)
        {
            for (var x = 0; x < Size; x++)
            {
                map[(y * Size) + x] = foreground(x, y) ? 0.9f : 0.1f;
            }
        }

        return map;
    }
}
