using System.Collections.Concurrent;
using System.Diagnostics;
using System.Globalization;
using System.Text.Json;
using CellSeg.LoadGen.Topology;
using Npgsql;

namespace CellSeg.LoadGen.Scenarios;

/// <summary>
/// The queue itself, without a network: Inference serves the built-in <c>noop</c> model, so what is measured is
/// Api → stream → worker → Inference → Postgres. (1) With the workers paused, every client queues all its images
/// so that the whole backlog waits at once; the resident memory of Api and workers is sampled while it waits and
/// while it drains. (2) The same requests with the workers running: throughput from the first request to the last
/// result. (3) Every client asks for one image at a time at a steady pace: how long the Api takes to accept a
/// request while the pipeline runs. Always starts its own local topology: phase 1 pauses the worker processes.
/// </summary>
public static class OrchestrationScenario
{
    /// <param name="RequestsPerClientPerSecond">Phase 3's pace: each client's steady rate of one-image requests.</param>
    /// <param name="Seconds">How long phase 3 lasts.</param>
    public sealed record Options(
        int Clients, int ImagesPerClient, int Workers, string Folder, int TimeoutSeconds, double RequestsPerClientPerSecond = 2, int Seconds = 10);

    private const int WarmUpSeconds = 3;

    private sealed record Client(CellSegApiClient Api, Guid ProjectId, IReadOnlyList<Guid> ImageIds);

    private sealed record Completion(int Done, DateTimeOffset? First, DateTimeOffset? Last, double[] LatenciesMs);

    public static async Task<int> RunAsync(Options options, CancellationToken cancellationToken)
    {
        var c = CultureInfo.InvariantCulture;
        var total = options.Clients * options.ImagesPerClient;
        var images = DemoImageSet.Load(64);
        await using var topology = await LocalTopology.StartAsync(
            new LocalTopologyOptions(options.Folder, Workers: options.Workers, Models: ["noop"], EmptyDatabase: true), Console.Out, cancellationToken);
        await using var database = NpgsqlDataSource.Create(topology.Postgres.ConnectionString("cellsegdb"));
        using var memory = new MemorySampler([topology.Api, .. topology.Workers]);

        Console.WriteLine($"Preparing {options.Clients} users with {options.ImagesPerClient} images each");
        var clients = await PrepareAsync(topology.Api.Url, options, images, cancellationToken);

        // Phase 1: the whole set queued at once (one batch request per client) while the workers are paused, so
        // that every task waits in Postgres and the stream together; then the workers resume and drain it.
        Console.WriteLine($"Phase 1: workers paused, {total} images queued by {options.Clients} batch requests, then the workers resume");
        foreach (var worker in topology.Workers)
        {
            await SignalAsync(worker, "STOP", cancellationToken);
        }

        var backlogStarted = memory.Mark();
        var queuedAt = DateTimeOffset.UtcNow;
        await Task.WhenAll(clients.Select(client => client.Api.RequestBatchSegmentationAsync(client.ProjectId, client.ImageIds, "noop", cancellationToken)));
        var projects = clients.Select(client => client.ProjectId).ToArray();
        var queued = await CountQueuedAsync(database, projects, cancellationToken);
        await Task.Delay(TimeSpan.FromSeconds(2), cancellationToken);
        var apiWithBacklog = memory.PeakSince(backlogStarted, topology.Api);
        Console.WriteLine(string.Create(c, $"  {queued} tasks queued; Api resident {apiWithBacklog:F0} MB"));
        var resumed = DateTimeOffset.UtcNow;
        foreach (var worker in topology.Workers)
        {
            await SignalAsync(worker, "CONT", cancellationToken);
        }

        var backlog = await WaitForCompletionAsync(database, total, since: queuedAt, options.TimeoutSeconds, cancellationToken);
        var drain = backlog.Done / (backlog.Last!.Value - resumed).TotalSeconds;
        var workerWithBacklog = topology.Workers.Max(w => memory.PeakSince(backlogStarted, w));
        Console.WriteLine(string.Create(c,
            $"  drained in {(backlog.Last.Value - resumed).TotalSeconds:F1} s = {drain:F0} img/s; worker resident peak {workerWithBacklog:F0} MB"));

        // Phase 2: the same again with the workers running: submission, stream, worker, Inference and Postgres
        // together, timed from the first request to the last result.
        Console.WriteLine($"Phase 2: {options.Clients} clients each ask for their {options.ImagesPerClient} images again (one batch request each)");
        var submitted = DateTimeOffset.UtcNow;
        await Task.WhenAll(clients.Select(client => client.Api.RequestBatchSegmentationAsync(client.ProjectId, client.ImageIds, "noop", force: true, cancellationToken)));
        var batches = await WaitForCompletionAsync(database, total, since: submitted, options.TimeoutSeconds, cancellationToken);
        var throughput = batches.Done / (batches.Last!.Value - submitted).TotalSeconds;
        Console.WriteLine(string.Create(c, $"  {batches.Done} segmented in {(batches.Last.Value - submitted).TotalSeconds:F1} s = {throughput:F0} img/s"));

        // Phase 3: interactive use: every client asks for one image at a time at its own steady pace, all at once,
        // while the pipeline serves them; the time the Api takes to accept each request. The same pace runs first
        // for a few seconds without being measured: in the first two seconds after phase 2 the p99 was 40-60 ms
        // and later 6-10 ms, as the single-image path's first calls compiled (JIT, EF's first query of that shape)
        // and the pipeline still finished phase 2's events.
        var rate = options.Clients * options.RequestsPerClientPerSecond;
        Console.WriteLine(string.Create(c,
            $"Phase 3: {options.Clients} clients, each one image request every {1000 / options.RequestsPerClientPerSecond:F0} ms ({rate:F0} requests/s), for {options.Seconds} s after {WarmUpSeconds} s unmeasured"));
        var warmUpLatencies = new ConcurrentBag<double>();
        var warmUpStarted = DateTimeOffset.UtcNow;
        var warmUpRequests = (int)(WarmUpSeconds * options.RequestsPerClientPerSecond);
        var warmedUp = await Task.WhenAll(clients.Select((client, index) =>
            SubmitPacedAsync(client, index, client.ImageIds.Take(warmUpRequests).ToList(), options, warmUpLatencies, cancellationToken)));
        await WaitForCompletionAsync(database, warmedUp.Sum(), since: warmUpStarted, options.TimeoutSeconds, cancellationToken);
        Console.WriteLine(string.Create(c, $"  unmeasured: {warmedUp.Sum()} requests, accepted in p99 {Statistics.Percentile(warmUpLatencies.ToArray(), 0.99):F1} ms"));

        var submissions = new ConcurrentBag<double>();
        var paced = DateTimeOffset.UtcNow;
        var sent = await Task.WhenAll(clients.Select((client, index) =>
            SubmitPacedAsync(client, index, client.ImageIds.Skip(warmUpRequests).ToList(), options, submissions, cancellationToken)));
        var pacedSeconds = (DateTimeOffset.UtcNow - paced).TotalSeconds;
        var interactive = await WaitForCompletionAsync(database, sent.Sum(), since: paced, options.TimeoutSeconds, cancellationToken);
        var submissionLatencies = submissions.ToArray();
        Console.WriteLine(string.Create(c,
            $"  {sent.Sum()} requests in {pacedSeconds:F1} s ({sent.Sum() / pacedSeconds:F0}/s); accepted in p50 {Statistics.Percentile(submissionLatencies, 0.50):F1} ms, p95 {Statistics.Percentile(submissionLatencies, 0.95):F1} ms, p99 {Statistics.Percentile(submissionLatencies, 0.99):F1} ms; segmented p95 {Statistics.Percentile(interactive.LatenciesMs, 0.95):F0} ms after the request"));

        var apiPeak = memory.PeakSince(0, topology.Api);
        var workerPeak = topology.Workers.Max(w => memory.PeakSince(0, w));
        // Every image is segmented again on purpose in phases 2 and 3 (forced): one task, and one result, per request.
        var (lost, duplicates) = await CountLostAndDuplicatesAsync(database, projects, requested: (2L * total) + warmedUp.Sum() + sent.Sum(), cancellationToken);
        Console.WriteLine();
        Console.WriteLine($"{"figure",-44} {"value",10}");
        Console.WriteLine(string.Create(c, $"{"images/s, batch requests → segmented",-44} {throughput,10:F0}"));
        Console.WriteLine(string.Create(c, $"{"images/s, backlog drain",-44} {drain,10:F0}"));
        Console.WriteLine(string.Create(c, $"{"request p99 ms, " + options.Clients + " clients at " + rate.ToString("F0", c) + "/s",-44} {Statistics.Percentile(submissionLatencies, 0.99),10:F1}"));
        Console.WriteLine(string.Create(c, $"{"tasks queued at once",-44} {queued,10}"));
        Console.WriteLine(string.Create(c, $"{"Api resident MB, backlog queued",-44} {apiWithBacklog,10:F0}"));
        Console.WriteLine(string.Create(c, $"{"worker resident MB, backlog draining",-44} {workerWithBacklog,10:F0}"));
        Console.WriteLine(string.Create(c, $"{"Api / worker resident MB, whole run peak",-44} {apiPeak.ToString("F0", c) + " / " + workerPeak.ToString("F0", c),10}"));
        Console.WriteLine(string.Create(c, $"{"lost / duplicates",-44} {lost + " / " + duplicates,10}"));
        Console.WriteLine(JsonSerializer.Serialize(new Dictionary<string, object?>
        {
            ["scenario"] = "orchestration",
            ["model"] = "noop",
            ["clients"] = options.Clients,
            ["images"] = total,
            ["workers"] = options.Workers,
            ["images_s"] = Math.Round(throughput, 1),
            ["drain_images_s"] = Math.Round(drain, 1),
            ["raw_img_s"] = null,
            ["p50_ms"] = Math.Round(Statistics.Percentile(batches.LatenciesMs, 0.50), 1),
            ["p95_ms"] = Math.Round(Statistics.Percentile(batches.LatenciesMs, 0.95), 1),
            ["p99_ms"] = Math.Round(Statistics.Percentile(batches.LatenciesMs, 0.99), 1),
            ["submit_rate_s"] = Math.Round(sent.Sum() / pacedSeconds, 1),
            ["submit_p50_ms"] = Math.Round(Statistics.Percentile(submissionLatencies, 0.50), 2),
            ["submit_p95_ms"] = Math.Round(Statistics.Percentile(submissionLatencies, 0.95), 2),
            ["submit_p99_ms"] = Math.Round(Statistics.Percentile(submissionLatencies, 0.99), 2),
            ["submit_warm_up_p99_ms"] = Math.Round(Statistics.Percentile(warmUpLatencies.ToArray(), 0.99), 2),
            ["queued_at_once"] = queued,
            ["api_rss_mb_backlog"] = Math.Round(apiWithBacklog),
            ["worker_rss_mb_backlog"] = Math.Round(workerWithBacklog),
            ["api_rss_mb_peak"] = Math.Round(apiPeak),
            ["worker_rss_mb_peak"] = Math.Round(workerPeak),
            ["jain_fairness"] = null,
            ["small_users_p95_ratio"] = null,
            ["lost"] = lost,
            ["duplicates"] = duplicates,
        }));
        return 0;
    }

    /// <summary>
    /// One client's steady requests, one image of <paramref name="imageIds"/> each, starting at a random phase, for
    /// <see cref="Options.Seconds"/> at most; returns how many it sent.
    /// </summary>
    private static async Task<int> SubmitPacedAsync(
        Client client, int index, List<Guid> imageIds, Options options, ConcurrentBag<double> latencies, CancellationToken cancellationToken)
    {
        var interval = TimeSpan.FromSeconds(1 / options.RequestsPerClientPerSecond);
        var start = Stopwatch.GetTimestamp() + (long)(new Random(index).NextDouble() * interval.TotalSeconds * Stopwatch.Frequency);
        var count = Math.Min(imageIds.Count, (int)(options.Seconds * options.RequestsPerClientPerSecond));
        for (var i = 0; i < count; i++)
        {
            var due = start + (long)(i * interval.TotalSeconds * Stopwatch.Frequency);
            var wait = Stopwatch.GetElapsedTime(Stopwatch.GetTimestamp(), due);
            if (wait > TimeSpan.Zero)
            {
                await Task.Delay(wait, cancellationToken);
            }

            var started = Stopwatch.GetTimestamp();
            await client.Api.RequestSegmentationAsync(imageIds[i], "noop", force: true, cancellationToken);
            latencies.Add(Stopwatch.GetElapsedTime(started).TotalMilliseconds);
        }

        return count;
    }

    private static async Task<List<Client>> PrepareAsync(
        Uri api, Options options, List<(string FileName, byte[] Bytes)> images, CancellationToken cancellationToken)
    {
        var run = Guid.NewGuid().ToString("N")[..6];
        using var gate = new SemaphoreSlim(8);
        var clients = await Task.WhenAll(Enumerable.Range(1, options.Clients).Select(async i =>
        {
            await gate.WaitAsync(cancellationToken);
            try
            {
                var http = new HttpClient { BaseAddress = api, Timeout = TimeSpan.FromMinutes(2) };
                var client = new CellSegApiClient(http);
                await client.SignInAsync($"client{i}-{run}@orchestration.cellseg", "Load-password-1", cancellationToken);
                var project = await client.CreateProjectAsync($"orchestration {i}", cancellationToken);
                var files = Enumerable.Range(0, options.ImagesPerClient)
                    .Select(k => ($"{k:D5}-{images[k % images.Count].FileName}", images[k % images.Count].Bytes))
                    .ToList();
                var uploaded = await client.UploadManyAsync(project.Id, files, 100, cancellationToken);
                return new Client(client, project.Id, [.. uploaded.Select(u => u.Id)]);
            }
            finally
            {
                gate.Release();
            }
        }));
        return [.. clients];
    }

    /// <summary>Waits until <paramref name="expected"/> tasks created since <paramref name="since"/> are completed.</summary>
    private static async Task<Completion> WaitForCompletionAsync(
        NpgsqlDataSource database, int expected, DateTimeOffset since, int timeoutSeconds, CancellationToken cancellationToken)
    {
        var deadline = Stopwatch.StartNew();
        while (true)
        {
            await using (var count = database.CreateCommand(
                """SELECT count(*) FROM segmentation_tasks WHERE "CreatedAt" >= $1 AND "Status" IN ('Completed', 'Failed', 'Cancelled')"""))
            {
                count.Parameters.AddWithValue(since.AddMilliseconds(-1));
                var done = (long)(await count.ExecuteScalarAsync(cancellationToken))!;
                if (done >= expected || deadline.Elapsed.TotalSeconds > timeoutSeconds)
                {
                    break;
                }
            }

            await Task.Delay(100, cancellationToken);
        }

        await using var command = database.CreateCommand(
            """
            SELECT "CreatedAt", "CompletedAt" FROM segmentation_tasks
            WHERE "CreatedAt" >= $1 AND "Status" = 'Completed'
            """);
        command.Parameters.AddWithValue(since.AddMilliseconds(-1));
        var latencies = new List<double>(expected);
        DateTimeOffset? first = null, last = null;
        await using var reader = await command.ExecuteReaderAsync(cancellationToken);
        while (await reader.ReadAsync(cancellationToken))
        {
            var created = reader.GetFieldValue<DateTimeOffset>(0);
            var completed = reader.GetFieldValue<DateTimeOffset>(1);
            latencies.Add((completed - created).TotalMilliseconds);
            first = first is null || completed < first ? completed : first;
            last = last is null || completed > last ? completed : last;
        }

        return new Completion(latencies.Count, first, last, [.. latencies]);
    }

    /// <summary>This run's tasks waiting now, counted by its projects.</summary>
    private static async Task<long> CountQueuedAsync(NpgsqlDataSource database, Guid[] projects, CancellationToken cancellationToken)
    {
        await using var command = database.CreateCommand("""SELECT count(*) FROM segmentation_tasks WHERE "ProjectId" = ANY($1) AND "Status" = 'Queued'""");
        command.Parameters.AddWithValue(projects);
        return (long)(await command.ExecuteScalarAsync(cancellationToken))!;
    }

    /// <summary>
    /// This run's tasks that did not complete, and results beyond one per request made: a request that produced a
    /// second task, or a task completed twice under another id, shows here.
    /// </summary>
    private static async Task<(long Lost, long Duplicates)> CountLostAndDuplicatesAsync(
        NpgsqlDataSource database, Guid[] projects, long requested, CancellationToken cancellationToken)
    {
        await using var command = database.CreateCommand(
            """
            SELECT (SELECT count(*) FROM segmentation_tasks WHERE "ProjectId" = ANY($1) AND "Status" <> 'Completed'),
                   (SELECT count(*) FROM segmentation_results r JOIN segmentation_tasks t ON t."Id" = r."TaskId" WHERE t."ProjectId" = ANY($1))
            """);
        command.Parameters.AddWithValue(projects);
        await using var reader = await command.ExecuteReaderAsync(cancellationToken);
        await reader.ReadAsync(cancellationToken);
        return (reader.GetInt64(0), Math.Max(0, reader.GetInt64(1) - requested));
    }

    /// <summary>SIGSTOP / SIGCONT: pauses a worker without losing its connections, then lets it go on.</summary>
    private static async Task SignalAsync(ServiceProcess service, string signal, CancellationToken cancellationToken)
    {
        var pid = service.ProcessId ?? throw new InvalidOperationException($"{service.Name} is not running.");
        using var kill = Process.Start(new ProcessStartInfo("kill", [$"-{signal}", pid.ToString(CultureInfo.InvariantCulture)]))
            ?? throw new InvalidOperationException("kill could not start.");
        await kill.WaitForExitAsync(cancellationToken);
    }

    /// <summary>Resident set size of the services' processes (from <c>/proc</c>), sampled every 100 ms.</summary>
    private sealed class MemorySampler : IDisposable
    {
        private readonly List<(long Tick, string Name, double Mb)> _samples = [];
        private readonly Lock _lock = new();
        private readonly Timer _timer;
        private long _tick;

        public MemorySampler(IReadOnlyList<ServiceProcess> services) =>
            _timer = new Timer(_ => Sample(services), null, TimeSpan.Zero, TimeSpan.FromMilliseconds(100));

        public long Mark() => Interlocked.Read(ref _tick);

        public double PeakSince(long mark, ServiceProcess service)
        {
            lock (_lock)
            {
                return _samples.Where(s => s.Tick >= mark && s.Name == service.Name).Select(s => s.Mb).DefaultIfEmpty(0).Max();
            }
        }

        private void Sample(IReadOnlyList<ServiceProcess> services)
        {
            var tick = Interlocked.Increment(ref _tick);
            foreach (var service in services)
            {
                if (service.ProcessId is { } pid && ResidentMegabytes(pid) is { } mb)
                {
                    lock (_lock)
                    {
                        _samples.Add((tick, service.Name, mb));
                    }
                }
            }
        }

        private static double? ResidentMegabytes(int pid)
        {
            try
            {
                var line = File.ReadLines($"/proc/{pid}/status").FirstOrDefault(l => l.StartsWith("VmRSS:", StringComparison.Ordinal));
                return line is null ? null : double.Parse(line.Split(' ', StringSplitOptions.RemoveEmptyEntries)[1], CultureInfo.InvariantCulture) / 1024;
            }
            catch (IOException)
            {
                return null;
            }
        }

        public void Dispose() => _timer.Dispose();
    }
}
