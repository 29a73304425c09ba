using System.Net;
using CellSeg.Data;
using CellSeg.Data.Model;
using CellSeg.LoadGen;
using CellSeg.LoadGen.Topology;
using Microsoft.EntityFrameworkCore;
using Microsoft.Extensions.DependencyInjection;
using StackExchange.Redis;

namespace CellSeg.FunctionalTests;

/// <summary>
/// Postgres is the truth and the queue only dispatches: tasks committed while Redis was down, or lost with a
/// flushed Redis, still end segmented exactly once. This class stops and flushes its Redis, so it has its own.
/// </summary>
public sealed class QueueRecoveryTests(StoresFixture stores) : IAsyncLifetime
{
    private static readonly Dictionary<string, string?> s_fastReconciler = new()
    {
        ["SegmentationWorker:ReconcileIntervalMs"] = "300",
        ["SegmentationWorker:DispatchGraceMs"] = "300",
    };

    private readonly string _folder = Path.Combine(Path.GetTempPath(), $"cellseg-recovery-{Guid.NewGuid():N}");
    private RedisServerProcess _redis = null!;
    private CellSegStack _stack = null!;
    private CellSegApiClient _client = null!;

    public async ValueTask InitializeAsync()
    {
        var ct = TestContext.Current.CancellationToken;
        _redis = await RedisServerProcess.StartAsync(_folder, ct);
        _stack = await CellSegStack.StartAsync(await stores.CreateDatabaseAsync(ct), _redis.ConnectionString, ct, s_fastReconciler);
        _client = await _stack.SignInAsync("recovery@cellseg.test", ct);
    }

    [Fact]
    public async Task ImageRequestedWhileRedisIsDownIsSegmentedOnceRedisIsBack()
    {
        var ct = TestContext.Current.CancellationToken;
        var project = await _client.CreateProjectAsync("Redis down", ct);
        var image = Assert.Single((await _client.UploadAsync(project.Id, [DemoImage("01-single-brightfield.png")], ct)).Images);

        await _redis.StopAsync();
        var task = await _client.RequestSegmentationAsync(image.Id, "hrnet", ct);
        Assert.Equal("queued", task.Status);
        await _redis.StartAgainAsync(ct);

        await WaitUntilSegmentedAsync([image.Id]);
        await AssertOneCompletedResultEachAsync([image.Id]);
    }

    [Fact]
    public async Task FlushedRedisLosesNoTaskAndStoresNoSecondResult()
    {
        var ct = TestContext.Current.CancellationToken;
        var project = await _client.CreateProjectAsync("Redis flushed", ct);
        var files = Directory.GetFiles(RepositoryLayout.DemoImages, "*.png").Order(StringComparer.Ordinal).Select(f => DemoImage(Path.GetFileName(f))).ToList();
        var images = (await _client.UploadAsync(project.Id, files, ct)).Images;
        foreach (var image in images)
        {
            await _client.RequestSegmentationAsync(image.Id, "hrnet", ct);
        }

        using (var admin = await ConnectionMultiplexer.ConnectAsync($"{_redis.ConnectionString},allowAdmin=true"))
        {
            await admin.GetServers().Single().FlushAllDatabasesAsync();
        }

        var ids = images.Select(i => i.Id).ToList();
        await WaitUntilSegmentedAsync(ids);
        await AssertOneCompletedResultEachAsync(ids);
    }

    private async Task WaitUntilSegmentedAsync(List<Guid> imageIds) =>
        await CellSegStack.WaitUntilAsync(
            async () =>
            {
                foreach (var id in imageIds)
                {
                    if ((await _client.GetImageAsync(id, TestContext.Current.CancellationToken)).Status != "segmented")
                    {
                        return false;
                    }
                }

                return true;
            },
            TimeSpan.FromSeconds(90),
            $"{imageIds.Count} image(s) to be segmented");

    private async Task AssertOneCompletedResultEachAsync(List<Guid> imageIds)
    {
        var ct = TestContext.Current.CancellationToken;
        await using var scope = _stack.Api.Services.CreateAsyncScope();
        var db = scope.ServiceProvider.GetRequiredService<CellSegDbContext>();
        foreach (var id in imageIds)
        {
            Assert.Equal(1, await db.SegmentationResults.CountAsync(r => r.ImageId == id, ct));
            var task = await db.SegmentationTasks.SingleAsync(t => t.ImageId == id, ct);
            Assert.Equal(SegmentationTaskStatus.Completed, task.Status);
        }
    }

    private static (string FileName, byte[] Bytes) DemoImage(string name) =>
        (name, File.ReadAllBytes(Path.Combine(RepositoryLayout.DemoImages, name)));

    public async ValueTask DisposeAsync()
    {
        await _stack.DisposeAsync();
        await _redis.DisposeAsync();
        try
        {
            Directory.Delete(_folder, recursive: true);
        }
        catch (IOException)
        {
            // Left to the OS's temp cleaning.
        }
    }
}
