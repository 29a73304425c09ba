using CellSeg.Imaging.Decoding;
using CellSeg.LoadGen.Quality;

namespace CellSeg.ModelTests;

public sealed class OtsuBaselineTests
{
    private const int Size = 64;

    [Theory]
    [InlineData(0.2f, 0.8f, false)]
    [InlineData(0.8f, 0.2f, true)]
    public void ObjectIsTheClassThatMostlyAvoidsTheBorderWhetherBrighterOrDarker(float background, float objectLevel, bool darker)
    {
        var image = Image((x, y) => InSquare(x, y) ? objectLevel : background);

        var (map, objectsDarker) = OtsuBaseline.Segment(image);

        Assert.Equal(darker, objectsDarker);
        for (var y = 0; y < Size; y++)
        {
            for (var x = 0; x < Size; x++)
            {
                Assert.Equal(InSquare(x, y) ? 1f : 0f, map[(y * Size) + x]);
            }
        }
    }

    [Fact]
    public void ThresholdSeparatesTwoNoisyLevels()
    {
        var random = new Random(7);
        var grey = Enumerable.Range(0, 2000)
            .Select(i => (i % 2 == 0 ? 0.3f : 0.7f) + (float)((random.NextDouble() - 0.5) * 0.1))
            .ToArray();

        var threshold = OtsuBaseline.Threshold(grey);

        Assert.InRange(threshold, 0.35, 0.65);
    }

    private static bool InSquare(int x, int y) => x is >= 20 and < 40 && y is >= 20 and < 40;

    private static DecodedImage Image(Func<int, int, float> grey)
    {
        var rgb = new float[Size * Size * 3];
        for (var y = 0; y < Size; y++)
        {
            for (var x = 0; x < Size; x++)
            {
                var i = 3 * ((y * Size) + x);
                rgb[i] = rgb[i + 1] = rgb[i + 2] = grey(x, y);
            }
        }

        return new DecodedImage(Size, Size, rgb);
    }
}
