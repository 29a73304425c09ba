using CellSeg.LoadGen.Quality;

namespace CellSeg.ModelTests;

/// <summary>What the Inference service assumes of every model file: names, layout, and a free batch dimension.</summary>
public sealed class OnnxContractTests(LoadedNetworks networks)
{
    [Theory]
    [MemberData(nameof(ModelFolders.Present), MemberType = typeof(ModelFolders))]
    public void ModelLoadsWithInputNamedInputOfThreeChannelsAndOneChannelProbabilitiesOutput(string model)
    {
        var network = networks[model];

        Assert.Equal("input", network.Card.InputName);
        Assert.Equal("probabilities", network.Card.OutputName);
        var input = Assert.Single(network.Inputs);
        Assert.Equal("input", input.Key);
        Assert.Equal(typeof(float), input.Value.ElementType);
        Assert.Equal(4, input.Value.Dimensions.Length);
        Assert.Equal(3, input.Value.Dimensions[1]);
        var output = Assert.Single(network.Outputs);
        Assert.Equal("probabilities", output.Key);
        Assert.Equal(typeof(float), output.Value.ElementType);
        Assert.Equal(4, output.Value.Dimensions.Length);
        Assert.Equal(1, output.Value.Dimensions[1]);

        // A free batch dimension is what lets the service batch requests.
        Assert.True(input.Value.Dimensions[0] < 0, $"input batch dimension is fixed at {input.Value.Dimensions[0]}");
        Assert.True(output.Value.Dimensions[0] < 0, $"output batch dimension is fixed at {output.Value.Dimensions[0]}");
    }

    [Theory]
    [MemberData(nameof(ModelFolders.Present), MemberType = typeof(ModelFolders))]
    public void BatchOfThreeCopiesGivesThreeMapsEqualToTheSingleRun(string model)
    {
        var network = networks[model];
        var single = ReferenceImage.Input(network);
        var batch = new float[3 * single.Length];
        for (var i = 0; i < 3; i++)
        {
            single.CopyTo(batch, i * single.Length);
        }

        var one = network.Run(single, 1);
        var three = network.Run(batch, 3);

        Assert.Equal(3, three.Count);
        Assert.Equal(one.Width, three.Width);
        Assert.Equal(one.Height, three.Height);
        var reference = one.Map(0);
        for (var i = 0; i < 3; i++)
        {
            // Batched kernels may block the work differently, so equal means within float rounding, not bit-identical.
            Assert.True(
                MaxAbsoluteDifference(reference, three.Map(i)) < 1e-5,
                $"map {i} of the batch differs from the single run by {MaxAbsoluteDifference(reference, three.Map(i)):E2}");
        }

        Assert.True(reference.ToArray().Any(p => p > 0.5f) && reference.ToArray().Any(p => p < 0.5f), "the reference map is not all one class");
    }

    private static double MaxAbsoluteDifference(ReadOnlySpan<float> a, ReadOnlySpan<float> b)
    {
        Assert.Equal(a.Length, b.Length);
        var max = 0.0;
        for (var i = 0; i < a.Length; i++)
        {
            max = Math.Max(max, Math.Abs(a[i] - b[i]));
        }

        return max;
    }
}
