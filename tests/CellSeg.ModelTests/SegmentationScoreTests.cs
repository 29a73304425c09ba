using CellSeg.LoadGen.Quality;

namespace CellSeg.ModelTests;

public sealed class SegmentationScoreTests
{
    private const int Width = 40;
    private const int Height = 20;

    [Fact]
    public void DiagonallyTouchingTruePixelsFormOneObject()
    {
        var truth = TruthMask.FromPixels(Pixels((x, y) => (x, y) is (3, 3) or (4, 4) or (10, 3)), Width, Height);

        Assert.Equal(2, truth.Count);
        Assert.Equal(truth.Labels[(3 * Width) + 3], truth.Labels[(4 * Width) + 4]);
    }

    [Fact]
    public void ObjectsMatchOneToOneFromHalfIouAndPixelFiguresPoolTheirOverlap()
    {
        // Truth: two 10 × 10 squares. Prediction: the left one exactly, the left half of the right one (IoU 0.5),
        // and a 5 × 5 false positive.
        var truth = TruthMask.FromPixels(Pixels((x, y) => y < 10 && (x < 10 || x is >= 20 and < 30)), Width, Height);
        var predicted = new int[Width * Height];
        for (var y = 0; y < Height; y++)
        {
            for (var x = 0; x < Width; x++)
            {
                predicted[(y * Width) + x] = (x, y) switch
                {
                    ( < 10, < 10) => 1,
                    ( >= 20 and < 25, < 10) => 2,
                    ( >= 33 and < 38, >= 12 and < 17) => 3,
                    _ => 0,
                };
            }
        }

        var score = SegmentationScore.Of(predicted, 3, truth);

        Assert.Equal(new ObjectScore(2, 3, 2), score.Objects);
        Assert.Equal(2.0 / 3, score.Objects.Precision, 12);
        Assert.Equal(1.0, score.Objects.Recall, 12);
        Assert.Equal(0.8, score.Objects.F1, 12);
        Assert.Equal(new PixelScore(150, 225, 175, 200), score.Pixels);
        Assert.Equal(150.0 / 225, score.Pixels.Iou, 12);
        Assert.Equal(300.0 / 375, score.Pixels.Dice, 12);
    }

    [Fact]
    public void ObjectCoveringTwoTrueObjectsMatchesNeitherBelowHalfIou()
    {
        var truth = TruthMask.FromPixels(Pixels((x, y) => y < 10 && (x < 10 || x is >= 20 and < 30)), Width, Height);
        var predicted = Pixels((x, y) => y < 10 && x < 30).Select(p => p ? 1 : 0).ToArray();

        var score = SegmentationScore.Of(predicted, 1, truth);

        Assert.Equal(new ObjectScore(2, 1, 0), score.Objects);
        Assert.Equal(200.0 / 300, score.Pixels.Iou, 12);
    }

    private static bool[] Pixels(Func<int, int, bool> foreground)
    {
        var pixels = new bool[Width * Height];
        for (var y = 0; y < Height; y++)
        {
            for (var x = 0; x < Width; x++)
            {
                pixels[(y * Width) + x] = foreground(x, y);
            }
        }

        return pixels;
    }
}
