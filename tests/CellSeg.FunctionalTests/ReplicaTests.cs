using System.Text.RegularExpressions;
using CellSeg.LoadGen;
using CellSeg.LoadGen.Topology;
using Npgsql;

namespace CellSeg.FunctionalTests;

/// <summary>
/// Two QueueWorker and two Inference processes behind one queue, as real processes: both workers and both Inference
/// instances do work, and SIGKILLing one Inference instance mid-run loses nothing, because the workers' calls move
/// to the survivor instead of failing back to the queue.
/// </summary>
public sealed partial class ReplicaTests : IAsyncLifetime
{
    private const int ImageCount = 300;
    private readonly string _folder = Path.Combine(Path.GetTempPath(), $"cellseg-replicas-{Guid.NewGuid():N}");
    private LocalTopology _topology = null!;

    public async ValueTask InitializeAsync() =>
        _topology = await LocalTopology.StartAsync(
            new LocalTopologyOptions(
                _folder,
                Workers: 2,
                InferenceInstances: 2,
                WorkerSettings: new Dictionary<string, string>
                {
                    // No reconciler re-dispatch and no takeover between the two live workers within the run, so that
                    // the only way a task is attempted twice is an Inference call failing back to the queue.
                    ["SegmentationWorker__DispatchGraceMs"] = "600000",
                    ["SegmentationWorker__ClaimIdleMs"] = "3600000",
                }),
            TextWriter.Null,
            TestContext.Current.CancellationToken);

    [Fact]
    public async Task TwoWorkersAndTwoInferenceInstancesShareTheWorkAndLoseNothingWhenOneInferenceDies()
    {
        var ct = TestContext.Current.CancellationToken;
        using var http = new HttpClient { BaseAddress = _topology.Api.Url, Timeout = TimeSpan.FromMinutes(1) };
        var client = new CellSegApiClient(http);
        await client.SignInAsync("replicas@cellseg.test", "Replica-password-1", ct);
        var project = await client.CreateProjectAsync("Replicas", ct);
        var small = DemoImageSet.Load(256);
        var files = Enumerable.Range(0, ImageCount).Select(i => ($"{i:D3}-{small[i % small.Count].FileName}", small[i % small.Count].Bytes)).ToList();
        var images = await client.UploadManyAsync(project.Id, files, 100, ct);
        await client.RequestBatchSegmentationAsync(project.Id, [.. images.Select(i => i.Id)], "hrnet", ct);

        await WhenSegmentedAsync(client, project.Id, ImageCount / 3, TimeSpan.FromSeconds(120));
        var (victim, survivor) = (_topology.Inference[0], _topology.Inference[1]);
        var servedBeforeKill = (Victim: await LocalTopology.ImagesServedAsync(victim, ct), Survivor: await LocalTopology.ImagesServedAsync(survivor, ct));
        await victim.KillAsync();
        var segmentedAtKill = (await client.ListImagesAsync(project.Id, ct)).Count(i => i.Status == "segmented");

        await CellSegStack.WaitUntilAsync(
            async () => (await client.ListImagesAsync(project.Id, ct)).All(i => i.Status is "segmented" or "failed"),
            TimeSpan.FromSeconds(240),
            "every image to be segmented or failed");

        // Every image has exactly one result, every task completed, nothing failed.
        var failed = (await client.ListImagesAsync(project.Id, ct)).Where(i => i.Status == "failed").ToList();
        Assert.True(failed.Count == 0, $"{failed.Count} image(s) failed, e.g. {failed.FirstOrDefault()?.Error}");
        await using var db = new NpgsqlConnection(_topology.Postgres.ConnectionString("cellsegdb"));
        await db.OpenAsync(ct);
        Assert.Equal(ImageCount, await ScalarAsync(db, "SELECT count(*) FROM segmentation_results", ct));
        Assert.Equal(ImageCount, await ScalarAsync(db, """SELECT count(DISTINCT "ImageId") FROM segmentation_results""", ct));
        Assert.Equal(ImageCount, await ScalarAsync(db, """SELECT count(*) FROM segmentation_tasks WHERE "Status" = 'Completed'""", ct));
        Assert.Equal(ImageCount, await ScalarAsync(db, "SELECT count(*) FROM segmentation_tasks", ct));
        Assert.Equal(ImageCount, await ScalarAsync(db, """SELECT count(*) FROM images WHERE "Status" = 'Segmented'""", ct));
        // The calls the dead instance dropped were retried on the survivor within the same attempt of the task.
        Assert.Equal(0, await ScalarAsync(db, """SELECT count(*) FROM segmentation_tasks WHERE "Attempts" <> 1""", ct));

        // The kill came mid-run, and both Inference instances served images while both ran.
        Assert.InRange(segmentedAtKill, ImageCount / 3, ImageCount - 1);
        Assert.True(servedBeforeKill.Victim > 0, "The killed Inference instance served nothing while both ran.");
        Assert.True(servedBeforeKill.Survivor > 0, "The surviving Inference instance served nothing while both ran.");
        Assert.True(await LocalTopology.ImagesServedAsync(survivor, ct) > servedBeforeKill.Survivor, "The survivor served nothing after the kill.");

        // Both workers took deliveries from the one consumer group and segmented images.
        var segmentedByWorker = new List<int>();
        foreach (var worker in _topology.Workers)
        {
            var log = await File.ReadAllTextAsync(Path.Combine(_folder, "logs", $"{worker.Name}.log"), ct);
            segmentedByWorker.Add(BatchDone().Matches(log).Sum(m => int.Parse(m.Groups["segmented"].Value, System.Globalization.CultureInfo.InvariantCulture)));
        }

        TestContext.Current.TestOutputHelper?.WriteLine(
            $"served before the kill: {servedBeforeKill}; segmented at the kill: {segmentedAtKill}; segmented by worker: {string.Join(", ", segmentedByWorker)}");
        Assert.Equal(2, segmentedByWorker.Count);
        Assert.All(segmentedByWorker, count => Assert.True(count > 0, $"A worker segmented nothing: {string.Join(", ", segmentedByWorker)}."));
        Assert.Equal(ImageCount, segmentedByWorker.Sum());
    }

    [GeneratedRegex(@"Batch of \d+ task\(s\) done: (?<segmented>\d+) segmented")]
    private static partial Regex BatchDone();

    private static async Task WhenSegmentedAsync(CellSegApiClient client, Guid projectId, int count, TimeSpan timeout) =>
        await CellSegStack.WaitUntilAsync(
            async () => (await client.ListImagesAsync(projectId, TestContext.Current.CancellationToken)).Count(i => i.Status == "segmented") >= count,
            timeout,
            $"{count} images to be segmented");

    private static Task<long> ScalarAsync(NpgsqlConnection connection, string sql, CancellationToken ct) =>
        TopologyTestSupport.ScalarAsync(connection, sql, ct);

    public ValueTask DisposeAsync() => TopologyTestSupport.StopAndDeleteAsync(_topology, _folder);
}
