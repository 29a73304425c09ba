using CellSeg.Data;
using CellSeg.Data.Model;
using Microsoft.EntityFrameworkCore;
using Microsoft.Extensions.DependencyInjection;

namespace CellSeg.FunctionalTests;

/// <summary>An Inference that cannot be reached makes images wait, not fail.</summary>
public sealed class InferenceOutageTests(StoresFixture stores) : IAsyncLifetime
{
    private CellSegStack _stack = null!;

    public async ValueTask InitializeAsync()
    {
        var ct = TestContext.Current.CancellationToken;
        // One attempt per image: a single attempt counted against an unreachable Inference would fail the image.
        _stack = await CellSegStack.StartAsync(
            await stores.CreateDatabaseAsync(ct),
            stores.Redis.ConnectionString,
            ct,
            workerSettings: new Dictionary<string, string?> { ["SegmentationWorker:MaxAttempts"] = "1" });
    }

    [Fact]
    public async Task ImagesWaitOutAnUnreachableInferenceWithoutUsingTheirAttempts()
    {
        var ct = TestContext.Current.CancellationToken;
        var client = await _stack.SignInAsync("outage@cellseg.test", ct);
        var (project, images) = await SegmentationRequestTests.UploadAsync(client, "Outage", 2, ct);
        await _stack.Inference.DisposeAsync();

        await client.RequestBatchSegmentationAsync(project, images, "hrnet", ct);

        // Tried and refused (after the client's own retries), then queued again and tried again behind the circuit.
        await CellSegStack.WaitUntilAsync(
            async () => (await TasksAsync(images, ct)).All(t => t.Error is not null),
            TimeSpan.FromSeconds(60),
            "both tasks to have met the unreachable Inference");
        await Task.Delay(TimeSpan.FromSeconds(3), ct);

        var tasks = await TasksAsync(images, ct);
        Assert.All(tasks, t => Assert.Contains(t.Status, new[] { SegmentationTaskStatus.Queued, SegmentationTaskStatus.Processing }));
        Assert.All(tasks, t => Assert.InRange(t.Attempts, 0, 1));
        Assert.All(await Task.WhenAll(images.Select(i => client.GetImageAsync(i, ct))), image => Assert.NotEqual("failed", image.Status));
    }

    private async Task<List<SegmentationTask>> TasksAsync(Guid[] images, CancellationToken ct)
    {
        await using var scope = _stack.Api.Services.CreateAsyncScope();
        var db = scope.ServiceProvider.GetRequiredService<CellSegDbContext>();
        return await db.SegmentationTasks.AsNoTracking().Where(t => images.Contains(t.ImageId)).ToListAsync(ct);
    }

    public async ValueTask DisposeAsync() => await _stack.DisposeAsync();
}
