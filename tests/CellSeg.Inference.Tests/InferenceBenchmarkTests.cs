using CellSeg.LoadGen.Benchmarks;

namespace CellSeg.Inference.Tests;

/// <summary>Which configuration the load generator's service mode runs, from the raw grid (2 cores here).</summary>
public sealed class InferenceBenchmarkTests
{
    private static RawMeasurement Point(int batch, int executors, int intraOp, double imagesPerSecond) =>
        new(new RawConfig(batch, executors, intraOp), imagesPerSecond);

    [Fact]
    public void TheServiceRunsTheBestRawConfiguration()
    {
        var grid = new[] { Point(1, 1, 2, 90), Point(1, 2, 1, 95), Point(2, 2, 1, 93) };

        Assert.Equal(grid[1], InferenceScenario.ServicePoint(grid, cores: 2));
    }

    [Fact]
    public void WhereTheBestIsTheSeedModesOwnTheServiceRunsAnotherWithinTheNoise()
    {
        // Batch 1, one executor on every core is the seed mode: the service would run the old hub again.
        var grid = new[] { Point(1, 1, 2, 21.7), Point(1, 2, 1, 21.6), Point(2, 1, 2, 20.0) };

        Assert.Equal(grid[1], InferenceScenario.ServicePoint(grid, cores: 2));
    }

    [Fact]
    public void WhereEveryOtherConfigurationIsClearlySlowerTheServiceRunsTheSeedModesOwn()
    {
        var grid = new[] { Point(1, 1, 2, 30), Point(1, 2, 1, 25), Point(2, 2, 1, 24) };

        Assert.Equal(grid[0], InferenceScenario.ServicePoint(grid, cores: 2));
    }
}
