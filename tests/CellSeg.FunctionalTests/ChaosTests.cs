using System.Net.Http.Json;
using CellSeg.LoadGen;
using CellSeg.LoadGen.Topology;
using Npgsql;
using StackExchange.Redis;

namespace CellSeg.FunctionalTests;

/// <summary>
/// The whole topology as real processes while things break: the worker is SIGKILLed and restarted several times,
/// an Inference process is killed once, Redis is flushed once. Every image still ends segmented exactly once.
/// </summary>
public sealed class ChaosTests : IAsyncLifetime
{
    private const int ImageCount = 240;
    private readonly string _folder = Path.Combine(Path.GetTempPath(), $"cellseg-chaos-{Guid.NewGuid():N}");
    private LocalTopology _topology = null!;

    public async ValueTask InitializeAsync()
    {
        _topology = await LocalTopology.StartAsync(
            new LocalTopologyOptions(
                _folder,
                WorkerSettings: new Dictionary<string, string>
                {
                    // Quick takeover and reconciliation so the run stays short.
                    ["SegmentationWorker__ClaimIdleMs"] = "3000",
                    ["SegmentationWorker__ClaimIntervalMs"] = "1000",
                    ["SegmentationWorker__ReconcileIntervalMs"] = "1000",
                    ["SegmentationWorker__DispatchGraceMs"] = "1000",
                },
                // At normal priority: beside the other test classes, an Inference under nice 10 got so little CPU
                // after its restart that the run stalled (reproduced with two busy loops beside the test).
                InferenceNiceness: 0),
            TextWriter.Null,
            TestContext.Current.CancellationToken);
    }

    [Fact]
    public async Task KilledWorkersKilledInferenceAndAFlushedRedisLoseNothingAndDuplicateNothing()
    {
        var ct = TestContext.Current.CancellationToken;
        using var http = new HttpClient { BaseAddress = _topology.Api.Url, Timeout = TimeSpan.FromMinutes(1) };
        var client = new CellSegApiClient(http);
        await client.SignInAsync("chaos@cellseg.test", "Chaos-password-1", ct);
        var project = await client.CreateProjectAsync("Chaos", ct);
        var small = DemoImageSet.Load(256);
        var ids = new List<Guid>();
        for (var offset = 0; offset < ImageCount; offset += 60)
        {
            var files = Enumerable.Range(offset, 60).Select(i => ($"{i:D3}-{small[i % small.Count].FileName}", small[i % small.Count].Bytes));
            ids.AddRange((await client.UploadAsync(project.Id, files, ct)).Images.Select(i => i.Id));
        }

        using (var request = await http.PostAsJsonAsync($"/api/projects/{project.Id}/segmentation", new { imageIds = ids }, ct))
        {
            request.EnsureSuccessStatusCode();
        }

        var worker = _topology.Workers[0];
        await WhenSegmentedAsync(client, project.Id, 0.10);
        await worker.KillAsync();
        worker.Start();

        await WhenSegmentedAsync(client, project.Id, 0.30, atLeast: TimeSpan.FromSeconds(6));
        var inference = _topology.Inference[0];
        await inference.KillAsync();
        await Task.Delay(1000, ct);
        inference.Start();

        await WhenSegmentedAsync(client, project.Id, 0.45, atLeast: TimeSpan.FromSeconds(6));
        await worker.KillAsync();
        worker.Start();

        await WhenSegmentedAsync(client, project.Id, 0.60, atLeast: TimeSpan.FromSeconds(6));
        using (var admin = await ConnectionMultiplexer.ConnectAsync($"{_topology.Redis.ConnectionString},allowAdmin=true"))
        {
            await admin.GetServers().Single().FlushAllDatabasesAsync();
        }

        await WhenSegmentedAsync(client, project.Id, 0.75, atLeast: TimeSpan.FromSeconds(6));
        await worker.KillAsync();
        worker.Start();

        await WhenSegmentedAsync(client, project.Id, 1.0, timeout: TimeSpan.FromSeconds(240));

        await using var db = new NpgsqlConnection(_topology.Postgres.ConnectionString("cellsegdb"));
        await db.OpenAsync(ct);
        Assert.Equal(ImageCount, await ScalarAsync(db, """SELECT count(*) FROM images WHERE "Status" = 'Segmented'""", ct));
        Assert.Equal(ImageCount, await ScalarAsync(db, "SELECT count(*) FROM segmentation_results", ct));
        Assert.Equal(ImageCount, await ScalarAsync(db, """SELECT count(DISTINCT "ImageId") FROM segmentation_results""", ct));
        Assert.Equal(ImageCount, await ScalarAsync(db, """SELECT count(*) FROM segmentation_tasks WHERE "Status" = 'Completed'""", ct));
        Assert.Equal(0, await ScalarAsync(db, """SELECT count(*) FROM segmentation_tasks WHERE "Status" <> 'Completed'""", ct));

        // The chaos bit: deliveries of killed workers were taken over. (Whether the flush left anything to dispatch
        // again depends on how much the worker had already read ahead; QueueRecoveryTests covers that path alone.)
        var workerLog = await File.ReadAllTextAsync(Path.Combine(_folder, "logs", "queueworker-0.log"), ct);
        Assert.Contains("Took over", workerLog, StringComparison.Ordinal);
    }

    /// <summary>Waits until the share of segmented images reaches <paramref name="fraction"/>, and at least <paramref name="atLeast"/>.</summary>
    private static async Task WhenSegmentedAsync(CellSegApiClient client, Guid projectId, double fraction, TimeSpan? atLeast = null, TimeSpan? timeout = null)
    {
        var minimum = Task.Delay(atLeast ?? TimeSpan.Zero, TestContext.Current.CancellationToken);
        await CellSegStack.WaitUntilAsync(
            async () => (await client.ListImagesAsync(projectId, TestContext.Current.CancellationToken)).Count(i => i.Status == "segmented") >= fraction * ImageCount,
            timeout ?? TimeSpan.FromSeconds(120),
            $"{fraction:P0} of the images to be segmented");
        await minimum;
    }

    private static Task<long> ScalarAsync(NpgsqlConnection connection, string sql, CancellationToken ct) =>
        TopologyTestSupport.ScalarAsync(connection, sql, ct);

    public ValueTask DisposeAsync() => TopologyTestSupport.StopAndDeleteAsync(_topology, _folder);
}
