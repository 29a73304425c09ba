namespace CellSeg.ModelTests;

/// <summary>
/// ONNX Runtime from C# reproduces PyTorch's output on the reference image, within the tolerances
/// <c>reference.json</c> states (by default: each listed pixel and the mean within 1e-4 absolute, the sum within
/// 1e-4 relative, the count of pixels at or above 0.5 within 20).
/// </summary>
public sealed class ReferenceOutputTests(LoadedNetworks networks)
{
    [Theory]
    [MemberData(nameof(ModelFolders.Present), MemberType = typeof(ModelFolders))]
    public void ReferenceInputPreprocessedInCSharpSumsToWhatPyTorchWasFed(string model)
    {
        var network = networks[model];
        var reference = ReferenceImage.Read(network.Folder);

        var input = ReferenceImage.Input(network);

        Assert.Equal(reference.InputShape.Aggregate(1, (a, b) => a * b), input.Length);
        var sum = input.Sum(v => (double)v);

        // Float rounding of (v − mean) / std against v · (1 / std) − mean / std moves each value by ~1e-7.
        Assert.True(Math.Abs(sum - reference.InputSum) <= 1e-6 * Math.Abs(reference.InputSum), $"input sum {sum} vs {reference.InputSum}");
    }

    [Theory]
    [MemberData(nameof(ModelFolders.Present), MemberType = typeof(ModelFolders))]
    public void OutputOnReferenceInputMatchesPyTorchSumMeanAndListedPixels(string model)
    {
        var network = networks[model];
        var reference = ReferenceImage.Read(network.Folder);
        var tolerance = reference.Tolerance;

        var maps = network.Run(ReferenceImage.Input(network), 1);

        Assert.Equal(reference.OutputShape, new[] { maps.Count, 1, maps.Height, maps.Width });
        var map = maps.Map(0).ToArray();
        var sum = map.Sum(v => (double)v);
        var mean = sum / map.Length;
        Assert.True(
            Math.Abs(sum - reference.OutputSum) <= tolerance.SumRelative * Math.Abs(reference.OutputSum),
            $"sum {sum:F4} vs PyTorch {reference.OutputSum:F4}");
        Assert.True(Math.Abs(mean - reference.OutputMean) < tolerance.MeanAbs, $"mean {mean:F7} vs PyTorch {reference.OutputMean:F7}");
        Assert.InRange(map.Count(v => v > 0.5f), reference.ForegroundPixelsAt0_5 - tolerance.ForegroundPixelsAbs, reference.ForegroundPixelsAt0_5 + tolerance.ForegroundPixelsAbs);
        Assert.NotEmpty(reference.Pixels);
        foreach (var pixel in reference.Pixels)
        {
            var value = map[(pixel.Y * maps.Width) + pixel.X];
            Assert.True(
                Math.Abs(value - pixel.Value) < tolerance.PixelAbs,
                $"pixel ({pixel.X}, {pixel.Y}) is {value:F7}, PyTorch {pixel.Value:F7}");
        }
    }
}
