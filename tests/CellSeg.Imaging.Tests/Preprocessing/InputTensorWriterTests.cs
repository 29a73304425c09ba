using CellSeg.Imaging.Decoding;
using CellSeg.Imaging.Preprocessing;

namespace CellSeg.Imaging.Tests.Preprocessing;

public sealed class InputTensorWriterTests
{
    private const float Tolerance = 1e-6f;

    [Fact]
    public void ConstantImageStaysConstantAndIsNormalisedPerChannel()
    {
        var image = Uniform(37, 23, 0.5f, 0.25f, 1f);
        var tensor = new float[3 * 64 * 48];

        InputTensorWriter.WriteChw(image, 64, 48, InputTensorWriter.ImageNetMean, InputTensorWriter.ImageNetStd, tensor);

        var expected = new[] { (0.5f - 0.485f) / 0.229f, (0.25f - 0.456f) / 0.224f, (1f - 0.406f) / 0.225f };
        for (var c = 0; c < 3; c++)
        {
            var plane = tensor.AsSpan(c * 64 * 48, 64 * 48).ToArray();
            Assert.All(plane, v => Assert.Equal(expected[c], v, Tolerance));
        }
    }

    [Fact]
    public void EnlargingUsesHalfPixelCentresLikeOpenCv()
    {
        // Two pixels [0, 1] to four: source positions −0.25, 0.25, 0.75, 1.25 → 0, 0.25, 0.75, 1 after clamping.
        var image = new DecodedImage(2, 1, [0, 0, 0, 1, 1, 1]);
        var tensor = new float[12];

        InputTensorWriter.WriteChw(image, 4, 1, [0, 0, 0], [1, 1, 1], tensor);

        Assert.Equal([0f, 0.25f, 0.75f, 1f], tensor[..4]);
    }

    [Fact]
    public void ShrinkingSamplesBetweenSourcePixels()
    {
        // Four pixels 0, 1, 2, 3 to two: positions 0.5 and 2.5.
        var image = new DecodedImage(4, 1, [0, 0, 0, 1, 1, 1, 2, 2, 2, 3, 3, 3]);
        var tensor = new float[6];

        InputTensorWriter.WriteChw(image, 2, 1, [0, 0, 0], [1, 1, 1], tensor);

        Assert.Equal([0.5f, 2.5f], tensor[..2]);
    }

    [Fact]
    public void VerticalResizeInterpolatesRowsAndKeepsChannelsApart()
    {
        // Rows: red 0 then red 1; green constant 0.5; blue the opposite of red.
        var image = new DecodedImage(1, 2, [0, 0.5f, 1, 1, 0.5f, 0]);
        var tensor = new float[12];

        InputTensorWriter.WriteChw(image, 1, 4, [0, 0, 0], [1, 1, 1], tensor);

        Assert.Equal([0f, 0.25f, 0.75f, 1f], tensor[..4]);
        Assert.Equal([0.5f, 0.5f, 0.5f, 0.5f], tensor[4..8]);
        Assert.Equal([1f, 0.75f, 0.25f, 0f], tensor[8..]);
    }

    [Fact]
    public void SameSizeCopiesPixelsIntoPlanes()
    {
        var rgb = Enumerable.Range(0, 5 * 3 * 3).Select(i => i / 45f).ToArray();
        var image = new DecodedImage(5, 3, rgb);
        var tensor = new float[45];

        InputTensorWriter.WriteChw(image, 5, 3, [0, 0, 0], [1, 1, 1], tensor);

        for (var pixel = 0; pixel < 15; pixel++)
        {
            for (var c = 0; c < 3; c++)
            {
                Assert.Equal(rgb[(3 * pixel) + c], tensor[(c * 15) + pixel], Tolerance);
            }
        }
    }

    [Fact]
    public void TooSmallDestinationIsRejected()
    {
        var image = Uniform(4, 4, 0, 0, 0);

        Assert.Throws<ArgumentException>(() => InputTensorWriter.WriteChw(image, 4, 4, [0, 0, 0], [1, 1, 1], new float[47]));
    }

    [Fact]
    public void ZeroStandardDeviationIsRejected()
    {
        var image = Uniform(4, 4, 0, 0, 0);

        Assert.Throws<ArgumentException>(() => InputTensorWriter.WriteChw(image, 4, 4, [0, 0, 0], [1, 0, 1], new float[48]));
    }

    private static DecodedImage Uniform(int width, int height, float r, float g, float b)
    {
        var rgb = new float[width * height * 3];
        for (var i = 0; i < width * height; i++)
        {
            (rgb[3 * i], rgb[(3 * i) + 1], rgb[(3 * i) + 2]) = (r, g, b);
        }

        return new DecodedImage(width, height, rgb);
    }
}
