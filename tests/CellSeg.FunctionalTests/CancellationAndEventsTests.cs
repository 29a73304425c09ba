using System.Collections.Concurrent;
using System.Net.Http.Json;
using System.Text.Json;
using CellSeg.Data;
using CellSeg.Data.Model;
using CellSeg.Data.Queue;
using CellSeg.LoadGen;
using CellSeg.LoadGen.Topology;
using Microsoft.EntityFrameworkCore;
using Microsoft.Extensions.DependencyInjection;

namespace CellSeg.FunctionalTests;

public sealed class CancellationAndEventsTests(StoresFixture stores) : IAsyncLifetime
{
    private CellSegStack _stack = null!;
    private CellSegApiClient _client = null!;

    public async ValueTask InitializeAsync()
    {
        var ct = TestContext.Current.CancellationToken;
        _stack = await CellSegStack.StartAsync(await stores.CreateDatabaseAsync(ct), stores.Redis.ConnectionString, ct);
        _client = await _stack.SignInAsync("cancel@cellseg.test", ct);
    }

    [Fact]
    public async Task CancellingABatchWhileItRunsLeavesNothingProcessingAndNoResultForCancelledImages()
    {
        var ct = TestContext.Current.CancellationToken;
        var project = await _client.CreateProjectAsync("Cancel", ct);
        var files = Enumerable.Range(0, 4).SelectMany(_ => DemoImages()).Select((f, i) => ($"{i:D2}-{f.FileName}", f.Bytes)).ToList();
        var images = (await _client.UploadAsync(project.Id, files, ct)).Images;
        using var response = await _client.Http.PostAsJsonAsync($"/api/projects/{project.Id}/segmentation", new { imageIds = images.Select(i => i.Id) }, ct);
        var batch = await response.Content.ReadFromJsonAsync<BatchAnswer>(ct);
        Assert.Equal(images.Count, batch!.Queued.Count);

        // Cancel once the first image is done, while others are being segmented.
        await CellSegStack.WaitUntilAsync(
            async () => (await _client.ListImagesAsync(project.Id, ct)).Any(i => i.Status == "segmented"),
            TimeSpan.FromSeconds(60),
            "the first image to be segmented");
        using var cancel = await _client.Http.PostAsync($"/api/segmentation/batches/{batch.BatchId}/cancel", null, ct);
        var cancelled = await cancel.Content.ReadFromJsonAsync<CancelAnswer>(ct);
        Assert.True(cancelled!.Cancelled > 0, "Some of the 48 images should still have been waiting or running.");

        await using var scope = _stack.Api.Services.CreateAsyncScope();
        var db = scope.ServiceProvider.GetRequiredService<CellSegDbContext>();
        await CellSegStack.WaitUntilAsync(
            async () => !await db.SegmentationTasks.AnyAsync(t => t.BatchId == batch.BatchId && (t.Status == SegmentationTaskStatus.Processing || t.Status == SegmentationTaskStatus.Queued), ct),
            TimeSpan.FromSeconds(30),
            "no task of the batch to be queued or processing");
        // Give any aborted in-flight call the time it would need to (wrongly) store a result.
        await Task.Delay(2000, ct);

        var tasks = await db.SegmentationTasks.AsNoTracking().Where(t => t.BatchId == batch.BatchId).ToListAsync(ct);
        var resultTasks = await db.SegmentationResults.AsNoTracking().Where(r => tasks.Select(t => t.Id).Contains(r.TaskId)).Select(r => r.TaskId).ToListAsync(ct);
        Assert.All(tasks, t => Assert.Contains(t.Status, new[] { SegmentationTaskStatus.Completed, SegmentationTaskStatus.Cancelled }));
        Assert.Equal(cancelled.Cancelled, tasks.Count(t => t.Status == SegmentationTaskStatus.Cancelled));
        Assert.Equal(tasks.Where(t => t.Status == SegmentationTaskStatus.Completed).Select(t => t.Id).Order(), resultTasks.Order());
        var cancelledImages = tasks.Where(t => t.Status == SegmentationTaskStatus.Cancelled).Select(t => t.ImageId).ToList();
        Assert.False(await db.SegmentationResults.AnyAsync(r => cancelledImages.Contains(r.ImageId), ct));
        Assert.All(await db.Images.AsNoTracking().Where(i => cancelledImages.Contains(i.Id)).ToListAsync(ct), i => Assert.Equal(ImageStatus.None, i.Status));

        // The statistics the Api reports agree with the tasks.
        var stats = await _client.Http.GetFromJsonAsync<Statistics>("/api/segmentation/stats", ct);
        var mine = Assert.Single(stats!.Projects, p => p.ProjectId == project.Id).Tasks;
        Assert.Equal(cancelled.Cancelled, mine.Cancelled);
        Assert.Equal(tasks.Count(t => t.Status == SegmentationTaskStatus.Completed), mine.Completed);
        Assert.Equal(0, mine.Processing + mine.Queued);
        Assert.Empty(stats.Running);
    }

    [Fact]
    public async Task EveryStateChangeOfAnImageIsPublishedInOrder()
    {
        var ct = TestContext.Current.CancellationToken;
        var events = new ConcurrentQueue<TaskEvent>();
        var bus = _stack.Api.Services.GetRequiredService<ITaskEventBus>();
        await bus.SubscribeAsync(e => { events.Enqueue(e); return Task.CompletedTask; }, ct);

        var project = await _client.CreateProjectAsync("Events", ct);
        var image = Assert.Single((await _client.UploadAsync(project.Id, [DemoImages()[2]], ct)).Images);
        await _client.RequestSegmentationAsync(image.Id, "hrnet", ct);
        await CellSegStack.WaitUntilAsync(
            () => Task.FromResult(events.Any(e => e.ImageId == image.Id && e.Status == "segmented")),
            TimeSpan.FromSeconds(60),
            "the segmented event");

        var mine = events.Where(e => e.ImageId == image.Id).ToList();
        Assert.Equal(["queued", "processing", "segmented"], mine.Select(e => e.Status));
        Assert.All(mine, e => Assert.Equal(project.Id, e.ProjectId));
        var result = await _client.GetResultAsync(image.Id, ct);
        Assert.Equal(result.ObjectCount, mine[^1].ObjectCount);
    }

    private static List<(string FileName, byte[] Bytes)> DemoImages() =>
        [.. Directory.GetFiles(RepositoryLayout.DemoImages, "*.png").Order(StringComparer.Ordinal).Select(f => (Path.GetFileName(f), File.ReadAllBytes(f)))];

    private sealed record BatchAnswer(Guid BatchId, IReadOnlyList<TaskAnswer> Queued);

    private sealed record TaskAnswer(Guid Id, Guid ImageId, string Status);

    private sealed record CancelAnswer(int Cancelled, IReadOnlyList<Guid> TaskIds);

    private sealed record Counts(int Queued, int Processing, int Completed, int Failed, int Cancelled);

    private sealed record ProjectCounts(Guid ProjectId, Counts Tasks);

    private sealed record Statistics(Counts Mine, IReadOnlyList<ProjectCounts> Projects, IReadOnlyList<JsonElement> Running, int QueuedOverall, int ProcessingOverall);

    public async ValueTask DisposeAsync() => await _stack.DisposeAsync();
}
