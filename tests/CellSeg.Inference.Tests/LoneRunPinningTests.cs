using CellSeg.Inference.Models;
using Microsoft.Extensions.DependencyInjection;

namespace CellSeg.Inference.Tests;

public sealed class LoneRunPinningTests
{
    [Fact]
    public void TheCallerTakesTheFirstCpuAndEachOnnxRuntimeThreadOneOfTheOthers()
    {
        var pinning = LoneRunPinning.Plan([4, 5, 6, 7], processorCount: 4);

        Assert.NotNull(pinning);
        Assert.Equal(4, pinning.CallerCpu);
        Assert.Equal([5, 6, 7], pinning.ThreadCpus);
        // ONNX Runtime counts processors from 1.
        Assert.Equal("6;7;8", pinning.ThreadAffinities);
    }

    [Theory]
    [InlineData(new[] { 0, 1, 2, 3, 4, 5, 6, 7 }, 2)]
    [InlineData(new[] { 0 }, 1)]
    [InlineData(new int[0], 2)]
    public void NothingIsPinnedWhereTheProcessDoesNotOwnExactlyTheCpusItCounts(int[] allowed, int processorCount)
    {
        Assert.Null(LoneRunPinning.Plan(allowed, processorCount));
    }

    [Fact]
    public async Task ALoneRunGivesTheCallingThreadItsCpusBackAndAnswersAsTheOneThreadSessionDoes()
    {
        var ct = TestContext.Current.CancellationToken;
        await using var factory = new InferenceFactory();
        using var client = await factory.CreateReadyClientAsync(ct);
        var registry = factory.Services.GetRequiredService<ModelRegistry>();
        Assert.True(registry.TryGet("hrnet", out var entry));
        var model = entry.Model!;

        var planned = LoneRunPinning.Plan(CpuAffinity.Allowed(), Environment.ProcessorCount);
        Assert.Equal(planned?.CallerCpu, model.Pinning?.CallerCpu);
        Assert.Equal(planned?.ThreadCpus ?? [], model.Pinning?.ThreadCpus ?? []);

        var input = new float[model.InputLength];
        var random = new Random(7);
        for (var i = 0; i < input.Length; i++)
        {
            input[i] = (float)((random.NextDouble() * 4) - 2);
        }

        var alone = new float[model.OutputLength];
        var batched = new float[model.OutputLength];
        IReadOnlyList<int>? before = null, after = null;
        var thread = new Thread(() =>
        {
            before = CpuAffinity.Allowed();
            model.Run(input, alone, 1, alone: true);
            after = CpuAffinity.Allowed();
            model.Run(input, batched, 1, alone: false);
        });
        thread.Start();
        thread.Join();

        Assert.NotNull(after);
        Assert.Equal(before, after);
        for (var i = 0; i < alone.Length; i++)
        {
            Assert.Equal(batched[i], alone[i], 1e-4f);
        }
    }

    [Fact]
    public async Task WithPinningTurnedOffTheLatencySessionStaysUnpinned()
    {
        var ct = TestContext.Current.CancellationToken;
        await using var factory = new InferenceFactory(new Dictionary<string, string?> { ["Inference:PinLoneRuns"] = "false" });
        using var client = await factory.CreateReadyClientAsync(ct);
        var registry = factory.Services.GetRequiredService<ModelRegistry>();
        Assert.True(registry.TryGet("hrnet", out var entry));

        Assert.Null(entry.Model!.Pinning);
        Assert.Equal(Environment.ProcessorCount > 1, entry.Model.HasLatencySession);
    }
}
