using System.Diagnostics.Metrics;
using System.Net;
using System.Net.Http.Headers;
using System.Net.Http.Json;
using System.Text.Json;
using Microsoft.Extensions.DependencyInjection;

namespace CellSeg.Inference.Tests;

public sealed class BatchingTests
{
    [Fact]
    public async Task ConcurrentRequestsShareBatchesAndEachGetsItsOwnObjects()
    {
        var ct = TestContext.Current.CancellationToken;
        await using var factory = new InferenceFactory(new Dictionary<string, string?>
        {
            // The whole of hrnet's batch, over the CPU batch of 1 that appsettings.json gives it.
            ["Inference:Batching:MaxBatch"] = "8",
            ["Inference:Batching:MaxQueueDelayMs"] = "50",
        });
        using var client = await factory.CreateReadyClientAsync(ct);

        var answers = await Task.WhenAll(Enumerable.Range(0, 16).Select(_ => SegmentAsync(client, ct)));

        Assert.All(answers, a => Assert.Equal(HttpStatusCode.OK, a.Status));
        Assert.All(answers, a => Assert.Equal(1, a.Body.GetProperty("objectCount").GetInt32()));
        Assert.Contains(answers, a => a.Body.GetProperty("batchSize").GetInt32() > 1);
        Assert.All(answers, a => Assert.InRange(a.Body.GetProperty("batchSize").GetInt32(), 1, 8));
    }

    [Fact]
    public async Task CpuBatchCapsEachCallWhileCallersMaySendTheModelsWholeBatch()
    {
        var ct = TestContext.Current.CancellationToken;
        await using var factory = new InferenceFactory(new Dictionary<string, string?>
        {
            ["Inference:Batching:CpuBatch:hrnet"] = "2",
            // Executors wait for batches of 4, so that the burst surely fills calls to the cap.
            ["Inference:Batching:PreferredBatch"] = "4",
            ["Inference:Batching:MaxQueueDelayMs"] = "200",
        });
        using var client = await factory.CreateReadyClientAsync(ct);

        var answers = await Task.WhenAll(Enumerable.Range(0, 16).Select(_ => SegmentAsync(client, ct)));

        Assert.All(answers, a => Assert.Equal(HttpStatusCode.OK, a.Status));
        Assert.All(answers, a => Assert.InRange(a.Body.GetProperty("batchSize").GetInt32(), 1, 2));
        Assert.Contains(answers, a => a.Body.GetProperty("batchSize").GetInt32() == 2);
        var hrnet = Assert.Single((await client.GetFromJsonAsync<JsonElement>("/v1/models", ct)).EnumerateArray());
        // A worker still sends batches of the model's maxBatch; they run two images per call.
        Assert.Equal(8, hrnet.GetProperty("maxBatch").GetInt32());
        Assert.Equal(2, hrnet.GetProperty("runBatch").GetInt32());
    }

    [Fact]
    public async Task ShippedSettingsRunHrnetOneImagePerCallOnACpu()
    {
        var ct = TestContext.Current.CancellationToken;
        await using var factory = new InferenceFactory(new Dictionary<string, string?>
        {
            ["Inference:Batching:PreferredBatch"] = "4",
            ["Inference:Batching:MaxQueueDelayMs"] = "200",
        });
        using var client = await factory.CreateReadyClientAsync(ct);

        var answers = await Task.WhenAll(Enumerable.Range(0, 8).Select(_ => SegmentAsync(client, ct)));

        Assert.All(answers, a => Assert.Equal(1, a.Body.GetProperty("batchSize").GetInt32()));
        var hrnet = Assert.Single((await client.GetFromJsonAsync<JsonElement>("/v1/models", ct)).EnumerateArray());
        Assert.Equal(8, hrnet.GetProperty("maxBatch").GetInt32());
        Assert.Equal(1, hrnet.GetProperty("runBatch").GetInt32());
    }

    [Fact]
    public async Task MemoryBudgetOfHalfABatchSplitsBatchesWithoutFailingAnImage()
    {
        var ct = TestContext.Current.CancellationToken;
        using var splits = new InstrumentTotal("CellSeg.Inference", "cellseg.inference.batch_splits");
        await using var factory = new InferenceFactory(new Dictionary<string, string?>
        {
            // hrnet's full batch is 8 images; the budget holds 4 of them.
            ["Inference:Batching:MaxBatch"] = "8",
            ["Inference:Batching:MemoryPerImageBytes"] = "1000000",
            ["Inference:Batching:MemoryBudgetBytes"] = "4000000",
            // One executor waiting for full batches, so that the burst forms batches of 8 to split.
            ["Inference:Batching:Executors"] = "1",
            ["Inference:Batching:PreferredBatch"] = "8",
            ["Inference:Batching:MaxQueueDelayMs"] = "1000",
        });
        using var client = await factory.CreateReadyClientAsync(ct);

        var answers = await Task.WhenAll(Enumerable.Range(0, 32).Select(_ => SegmentAsync(client, ct)));

        Assert.All(answers, a => Assert.Equal(HttpStatusCode.OK, a.Status));
        Assert.All(answers, a => Assert.Equal(1, a.Body.GetProperty("objectCount").GetInt32()));
        Assert.All(answers, a => Assert.InRange(a.Body.GetProperty("batchSize").GetInt32(), 1, 4));
        Assert.True(splits.Value > 0, "A burst of 32 should have formed batches over the budget that were split.");
    }

    [Fact]
    public async Task FullQueueAnswersTooManyRequestsWithAReason()
    {
        var ct = TestContext.Current.CancellationToken;
        await using var factory = new InferenceFactory(new Dictionary<string, string?>
        {
            ["Inference:Batching:QueueCapacity"] = "1",
            // The executor holds the first image back waiting for a batch of 4 to form, so it stays queued.
            ["Inference:Batching:MaxBatch"] = "8",
            ["Inference:Batching:PreferredBatch"] = "4",
            ["Inference:Batching:MaxQueueDelayMs"] = "1000",
        });
        using var client = await factory.CreateReadyClientAsync(ct);

        var first = SegmentAsync(client, ct);
        var waited = System.Diagnostics.Stopwatch.StartNew();
        while ((await client.GetFromJsonAsync<JsonElement>("/v1/models", ct))[0].GetProperty("queueDepth").GetInt32() == 0)
        {
            Assert.True(waited.Elapsed < TimeSpan.FromSeconds(10), "The first image never showed in the queue.");
            await Task.Delay(10, ct);
        }

        var second = await SegmentAsync(client, ct);

        Assert.Equal(HttpStatusCode.TooManyRequests, second.Status);
        Assert.Equal("Model queue full", second.Body.GetProperty("title").GetString());
        Assert.Equal(HttpStatusCode.OK, (await first).Status);
    }

    [Fact]
    public async Task AnswerReportsDeviceBatchAndTimings()
    {
        var ct = TestContext.Current.CancellationToken;
        await using var factory = new InferenceFactory();
        using var client = await factory.CreateReadyClientAsync(ct);

        var answer = await SegmentAsync(client, ct);

        Assert.Equal(HttpStatusCode.OK, answer.Status);
        Assert.Equal("hrnet", answer.Body.GetProperty("model").GetString());
        Assert.Equal("cpu", answer.Body.GetProperty("device").GetString());
        Assert.Equal((512, 512), (answer.Body.GetProperty("width").GetInt32(), answer.Body.GetProperty("height").GetInt32()));
        var timings = answer.Body.GetProperty("timings");
        Assert.True(timings.GetProperty("inferenceMs").GetDouble() > 0);
        Assert.True(timings.GetProperty("preprocessMs").GetDouble() > 0);
        Assert.True(timings.GetProperty("queueMs").GetDouble() >= 0);

        var models = await client.GetFromJsonAsync<JsonElement>("/v1/models", ct);
        var hrnet = Assert.Single(models.EnumerateArray());
        Assert.Equal("ready", hrnet.GetProperty("state").GetString());
        Assert.Equal("cpu", hrnet.GetProperty("device").GetString());
        Assert.Equal(8, hrnet.GetProperty("maxBatch").GetInt32());
    }

    [Fact]
    public async Task LoneRequestsRunOnEveryCoreWithTheSameAnswerAsBatchedOnes()
    {
        // Executors wait up to 200 ms for a batch of 4, so that the burst surely forms batches; a lone request waits
        // too (in the queue: it does not run at once on its own thread), then runs alone.
        var (lone, loneRuns, burst) = await LoneRequestsThenABurstAsync(new Dictionary<string, string?>
        {
            ["Inference:Batching:MaxQueueDelayMs"] = "200",
            ["Inference:Batching:PreferredBatch"] = "4",
            ["Inference:Batching:MaxBatch"] = "8",
        });

        // A machine with one core has no every-core session to use; with more, each lone request used it.
        Assert.Equal(Environment.ProcessorCount > 1 ? 3 : 0, loneRuns);
        Assert.All(lone, body => Assert.True(body.GetProperty("timings").GetProperty("queueMs").GetDouble() > 100));
        AssertBatchedWithTheSameMasks(lone, burst);
    }

    [Fact]
    public async Task AnImageThatFindsTheModelIdleRunsAtOnceAndABurstStillFormsBatches()
    {
        // Executors never wait for a batch to fill (the default); batches of up to 8 are allowed.
        var (lone, loneRuns, burst) = await LoneRequestsThenABurstAsync(new Dictionary<string, string?> { ["Inference:Batching:MaxBatch"] = "8" });

        if (Environment.ProcessorCount > 1)
        {
            // Run on the request's own thread: never queued.
            Assert.Equal(3, loneRuns);
            Assert.All(lone, body => Assert.Equal(0, body.GetProperty("timings").GetProperty("queueMs").GetDouble()));
        }

        // Requests that arrive while one runs on its own queue and meet in batches.
        AssertBatchedWithTheSameMasks(lone, burst);
    }

    /// <summary>Three requests one after another, then a burst of 16; and how many batches ran alone among the three.</summary>
    private static async Task<(List<JsonElement> Lone, long LoneRuns, (HttpStatusCode Status, JsonElement Body)[] Burst)> LoneRequestsThenABurstAsync(
        Dictionary<string, string?> settings)
    {
        var ct = TestContext.Current.CancellationToken;
        await using var factory = new InferenceFactory(settings);
        using var client = await factory.CreateReadyClientAsync(ct);
        using var alone = new InstrumentTotal("CellSeg.Inference", "cellseg.inference.alone_runs", factory.Services.GetRequiredService<IMeterFactory>());

        var lone = new List<JsonElement>();
        for (var i = 0; i < 3; i++)
        {
            var answer = await SegmentAsync(client, ct);
            Assert.Equal(HttpStatusCode.OK, answer.Status);
            lone.Add(answer.Body);
        }

        var loneRuns = alone.Value;
        return (lone, loneRuns, await Task.WhenAll(Enumerable.Range(0, 16).Select(_ => SegmentAsync(client, ct))));
    }

    private static void AssertBatchedWithTheSameMasks(List<JsonElement> lone, (HttpStatusCode Status, JsonElement Body)[] burst)
    {
        Assert.All(burst, a => Assert.Equal(HttpStatusCode.OK, a.Status));
        Assert.Contains(burst, a => a.Body.GetProperty("batchSize").GetInt32() > 1);
        var batchedArea = Area(burst.First(a => a.Body.GetProperty("batchSize").GetInt32() > 1).Body);
        // Thread counts change the float summation order, not the mask: at most a pixel or two may differ.
        Assert.All(lone, body => Assert.InRange(Area(body), batchedArea * 0.999, batchedArea * 1.001));
    }

    [Fact]
    public async Task WithoutTheLatencySessionNothingRunsAlone()
    {
        var ct = TestContext.Current.CancellationToken;
        await using var factory = new InferenceFactory(new Dictionary<string, string?> { ["Inference:LatencySession"] = "false" });
        using var client = await factory.CreateReadyClientAsync(ct);
        using var alone = new InstrumentTotal("CellSeg.Inference", "cellseg.inference.alone_runs", factory.Services.GetRequiredService<IMeterFactory>());

        for (var i = 0; i < 3; i++)
        {
            Assert.Equal(HttpStatusCode.OK, (await SegmentAsync(client, ct)).Status);
        }

        Assert.Equal(0, alone.Value);
    }

    [Fact]
    public async Task NoOpModelAnswersOneCentredDiscWithoutANetwork()
    {
        var ct = TestContext.Current.CancellationToken;
        await using var factory = new InferenceFactory(new Dictionary<string, string?> { ["Inference:Models:0"] = "noop" });
        using var client = await factory.CreateReadyClientAsync(ct);

        var models = await client.GetFromJsonAsync<JsonElement>("/v1/models", ct);
        using var content = new ByteArrayContent(TestImages.SingleSpheroid);
        content.Headers.ContentType = new MediaTypeHeaderValue("application/octet-stream");
        using var response = await client.PostAsync("/v1/segment?model=noop", content, ct);
        var body = await response.Content.ReadFromJsonAsync<JsonElement>(ct);

        var noop = Assert.Single(models.EnumerateArray());
        Assert.Equal(("noop", "ready", "none"), (noop.GetProperty("name").GetString(), noop.GetProperty("state").GetString(), noop.GetProperty("device").GetString()));
        Assert.Equal(HttpStatusCode.OK, response.StatusCode);
        Assert.Equal(1, body.GetProperty("objectCount").GetInt32());
        // A disc of radius a quarter of the side, scaled back to the 512 × 512 image: π · 128² ≈ 51,472 px².
        Assert.InRange(Area(body), 51_472 * 0.95, 51_472 * 1.05);
    }

    private static double Area(JsonElement answer) =>
        answer.GetProperty("objects").EnumerateArray()
            .Where(o => o.GetProperty("kind").GetString() == "external")
            .Sum(o => o.GetProperty("metrics").GetProperty("area").GetDouble());

    private static async Task<(HttpStatusCode Status, JsonElement Body)> SegmentAsync(HttpClient client, CancellationToken ct)
    {
        using var content = new ByteArrayContent(TestImages.SingleSpheroid);
        content.Headers.ContentType = new MediaTypeHeaderValue("application/octet-stream");
        using var response = await client.PostAsync("/v1/segment?model=hrnet", content, ct);
        return (response.StatusCode, await response.Content.ReadFromJsonAsync<JsonElement>(ct));
    }

    /// <summary>The running total of one counter, as a metrics exporter would see it.</summary>
    private sealed class InstrumentTotal : IDisposable
    {
        private readonly MeterListener _listener = new();
        private long _value;

        /// <param name="scope">Only the meters of this factory (one service instance), where tests run side by side.</param>
        public InstrumentTotal(string meter, string instrument, IMeterFactory? scope = null)
        {
            _listener.InstrumentPublished = (candidate, listener) =>
            {
                if (candidate.Meter.Name == meter && candidate.Name == instrument && (scope is null || ReferenceEquals(candidate.Meter.Scope, scope)))
                {
                    listener.EnableMeasurementEvents(candidate);
                }
            };
            _listener.SetMeasurementEventCallback<long>((_, value, _, _) => Interlocked.Add(ref _value, value));
            _listener.Start();
        }

        public long Value => Interlocked.Read(ref _value);

        public void Dispose() => _listener.Dispose();
    }
}
