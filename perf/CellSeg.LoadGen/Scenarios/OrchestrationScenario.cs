using System.Collections.Concurrent;
using System.Diagnostics;
using System.Globalization;
using System.Text.Json;
using CellSeg.LoadGen.Topology;
using Npgsql;

namespace CellSeg.LoadGen.Scenarios;

/// <summary>
/// The queue itself, without a network: Inference serves the built-in <c>noop</c> model, so what is measured is
/// Api → stream → worker → Inference → Postgres. Many clients submit one image per request at once (throughput
/// and submission latency); then, with the workers paused, every image is queued again so that the whole backlog
/// waits at once, and the resident memory of Api and workers is sampled while it waits and while it drains.
/// Always starts its own local topology: the backlog phase pauses the worker processes.
/// </summary>
public static class OrchestrationScenario
{
    public sealed record Options(int Clients, int ImagesPerClient, int Workers, string Folder, int TimeoutSeconds);

    private sealed record Client(CellSegApiClient Api, Guid ProjectId, IReadOnlyList<Guid> ImageIds);

    private sealed record Completion(int Done, DateTimeOffset? First, DateTimeOffset? Last, double[] LatenciesMs);

    public static async Task<int> RunAsync(Options options, CancellationToken cancellationToken)
    {
        var c = CultureInfo.InvariantCulture;
        var total = options.Clients * options.ImagesPerClient;
        var images = DemoImageSet.Load(64);
        await using var topology = await LocalTopology.StartAsync(
            new LocalTopologyOptions(options.Folder, Workers: options.Workers, Models: ["noop"]), Console.Out, cancellationToken);
        await using var database = NpgsqlDataSource.Create(topology.Postgres.ConnectionString("cellsegdb"));
        using var memory = new MemorySampler([topology.Api, .. topology.Workers]);

        Console.WriteLine($"Preparing {options.Clients} users with {options.ImagesPerClient} images each");
        var clients = await PrepareAsync(topology.Api.Url, options, images, cancellationToken);

        // Phase 1: every client submits its images one request at a time, all clients at once.
        Console.WriteLine($"Phase 1: {options.Clients} clients submit {total} images one request each");
        var submitted = DateTimeOffset.UtcNow;
        var submissions = new ConcurrentBag<double>();
        var submitting = Task.WhenAll(clients.Select(async client =>
        {
            foreach (var imageId in client.ImageIds)
            {
                var started = Stopwatch.GetTimestamp();
                await client.Api.RequestSegmentationAsync(imageId, "noop", cancellationToken);
                submissions.Add(Stopwatch.GetElapsedTime(started).TotalMilliseconds);
            }
        }));
        await submitting;
        var submittedIn = (DateTimeOffset.UtcNow - submitted).TotalSeconds;
        var phase1 = await WaitForCompletionAsync(database, total, since: submitted, options.TimeoutSeconds, cancellationToken);
        var throughput = phase1.Done / (phase1.Last!.Value - submitted).TotalSeconds;
        var submissionLatencies = submissions.ToArray();
        Console.WriteLine(string.Create(c,
            $"  submitted in {submittedIn:F1} s ({total / submittedIn:F0} requests/s); {phase1.Done} segmented in {(phase1.Last.Value - submitted).TotalSeconds:F1} s = {throughput:F0} img/s"));
        Console.WriteLine(string.Create(c,
            $"  submission latency p50 {Percentile(submissionLatencies, 0.50):F1} ms, p95 {Percentile(submissionLatencies, 0.95):F1} ms, p99 {Percentile(submissionLatencies, 0.99):F1} ms"));

        // Phase 2: the whole set again as one batch per client while the workers are paused: a backlog of every image.
        Console.WriteLine($"Phase 2: workers paused, {total} images queued again, then the workers resume");
        foreach (var worker in topology.Workers)
        {
            await SignalAsync(worker, "STOP", cancellationToken);
        }

        var queuedAt = DateTimeOffset.UtcNow;
        var backlogStarted = memory.Mark();
        await Task.WhenAll(clients.Select(client => client.Api.RequestBatchSegmentationAsync(client.ProjectId, client.ImageIds, "noop", force: true, cancellationToken)));
        var queued = await CountQueuedAsync(database, cancellationToken);
        await Task.Delay(TimeSpan.FromSeconds(2), cancellationToken);
        var apiWithBacklog = memory.PeakSince(backlogStarted, topology.Api);
        Console.WriteLine(string.Create(c, $"  {queued} tasks queued; Api resident {apiWithBacklog:F0} MB"));
        var resumed = DateTimeOffset.UtcNow;
        foreach (var worker in topology.Workers)
        {
            await SignalAsync(worker, "CONT", cancellationToken);
        }

        var phase2 = await WaitForCompletionAsync(database, total, since: queuedAt, options.TimeoutSeconds, cancellationToken);
        var drain = phase2.Done / (phase2.Last!.Value - resumed).TotalSeconds;
        var workerPeak = topology.Workers.Max(w => memory.PeakSince(backlogStarted, w));
        var apiPeak = memory.PeakSince(0, topology.Api);
        Console.WriteLine(string.Create(c, $"  backlog drained in {(phase2.Last.Value - resumed).TotalSeconds:F1} s = {drain:F0} img/s; worker resident peak {workerPeak:F0} MB"));

        var (lost, duplicates) = await CountLostAndDuplicatesAsync(database, cancellationToken);
        Console.WriteLine();
        Console.WriteLine($"{"figure",-36} {"value",10}");
        Console.WriteLine(string.Create(c, $"{"images/s (submit → segmented)",-36} {throughput,10:F0}"));
        Console.WriteLine(string.Create(c, $"{"images/s (backlog drain)",-36} {drain,10:F0}"));
        Console.WriteLine(string.Create(c, $"{"submission p99 ms (" + options.Clients + " clients)",-36} {Percentile(submissionLatencies, 0.99),10:F1}"));
        Console.WriteLine(string.Create(c, $"{"tasks queued at once",-36} {queued,10}"));
        Console.WriteLine(string.Create(c, $"{"Api resident peak MB",-36} {apiPeak,10:F0}"));
        Console.WriteLine(string.Create(c, $"{"worker resident peak MB (backlog)",-36} {workerPeak,10:F0}"));
        Console.WriteLine(string.Create(c, $"{"lost / duplicates",-36} {lost + " / " + duplicates,10}"));
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
            ["p50_ms"] = Math.Round(Percentile(phase1.LatenciesMs, 0.50), 1),
            ["p95_ms"] = Math.Round(Percentile(phase1.LatenciesMs, 0.95), 1),
            ["p99_ms"] = Math.Round(Percentile(phase1.LatenciesMs, 0.99), 1),
            ["submit_p50_ms"] = Math.Round(Percentile(submissionLatencies, 0.50), 2),
            ["submit_p95_ms"] = Math.Round(Percentile(submissionLatencies, 0.95), 2),
            ["submit_p99_ms"] = Math.Round(Percentile(submissionLatencies, 0.99), 2),
            ["queued_at_once"] = queued,
            ["api_rss_mb"] = Math.Round(apiPeak),
            ["worker_rss_mb"] = Math.Round(workerPeak),
            ["jain_fairness"] = null,
            ["small_users_p95_ratio"] = null,
            ["lost"] = lost,
            ["duplicates"] = duplicates,
        }));
        return 0;
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

    private static async Task<long> CountQueuedAsync(NpgsqlDataSource database, CancellationToken cancellationToken)
    {
        await using var command = database.CreateCommand("""SELECT count(*) FROM segmentation_tasks WHERE "Status" = 'Queued'""");
        return (long)(await command.ExecuteScalarAsync(cancellationToken))!;
    }

    private static async Task<(long Lost, long Duplicates)> CountLostAndDuplicatesAsync(NpgsqlDataSource database, CancellationToken cancellationToken)
    {
        // Each image was segmented twice on purpose (the second time forced): one result per task, every task done.
        await using var command = database.CreateCommand(
            """
            SELECT (SELECT count(*) FROM segmentation_tasks WHERE "Status" <> 'Completed'),
                   (SELECT count(*) FROM segmentation_results) - (SELECT count(DISTINCT "TaskId") FROM segmentation_results)
            """);
        await using var reader = await command.ExecuteReaderAsync(cancellationToken);
        await reader.ReadAsync(cancellationToken);
        return (reader.GetInt64(0), reader.GetInt64(1));
    }

    /// <summary>SIGSTOP / SIGCONT: pauses a worker without losing its connections, then lets it go on.</summary>
    private static async Task SignalAsync(ServiceProcess service, string signal, CancellationToken cancellationToken)
    {
        var pid = service.ProcessId ?? throw new InvalidOperationException($"{service.Name} is not running.");
        using var kill = Process.Start(new ProcessStartInfo("kill", [$"-{signal}", pid.ToString(CultureInfo.InvariantCulture)]))
            ?? throw new InvalidOperationException("kill could not start.");
        await kill.WaitForExitAsync(cancellationToken);
    }

    private static double Percentile(double[] values, double p)
    {
        if (values.Length == 0)
        {
            return double.NaN;
        }

        var sorted = values.Order().ToArray();
        return sorted[Math.Min(sorted.Length - 1, (int)Math.Ceiling(p * sorted.Length) - 1)];
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
