using System.Diagnostics;
using System.Globalization;
using System.Text.Json;
using CellSeg.LoadGen.Benchmarks;
using CellSeg.LoadGen.Topology;
using Npgsql;

namespace CellSeg.LoadGen.Scenarios;

/// <summary>
/// Load through the whole topology (Api → stream → worker → Inference → Postgres): <c>e2e</c> (several users at
/// once) and <c>fairness</c> (one user with a thousand images, seven with ten each a little later, compared with the
/// seven alone). When no <c>--api</c> is given it starts the local topology itself and stops it afterwards.
/// </summary>
public static class QueueScenario
{
    /// <param name="WarmupImages">
    /// Images segmented before the measured run. The worker's per-batch code must run more than 30 times (the JIT's
    /// call count for its optimised tier) before the measurement: after 200 images (25 batches) the worker's
    /// tiered-compilation thread still took 3 % of the machine in the measured window, and its CPU per hrnet image was
    /// 2.3 ms against 1.4–1.6 ms after 800.
    /// </param>
    public sealed record Options(
        string Kind, int Users, int ImagesPerUser, string Model, Uri? Api, string Folder, int TimeoutSeconds, int Workers = 1, int InferenceInstances = 1,
        int WarmupImages = DefaultWarmupImages);

    public const int DefaultWarmupImages = 800;

    /// <param name="SubmitMs">How long the Api took to accept the user's segmentation request (one batch).</param>
    private sealed record UserRun(string User, DateTimeOffset Requested, double SubmitMs, IReadOnlyList<DateTimeOffset> Completions, int Images, int Failed);

    /// <summary>CPU milliseconds per segmented image spent by each part of the topology while the users' images were segmented.</summary>
    private sealed class CpuUse
    {
        public Dictionary<string, double>? Before { get; set; }
        public Dictionary<string, double>? After { get; set; }

        public Dictionary<string, double>? PerImage(int images) =>
            Before is null || After is null || images == 0
                ? null
                : After.Where(p => p.Value - Before.GetValueOrDefault(p.Key) > 0)
                    .OrderByDescending(p => p.Value - Before.GetValueOrDefault(p.Key))
                    .ToDictionary(p => p.Key, p => Math.Round((p.Value - Before.GetValueOrDefault(p.Key)) * 1000 / images, 2));
    }

    public static async Task<int> RunAsync(Options options, CancellationToken cancellationToken)
    {
        var c = CultureInfo.InvariantCulture;
        var images = DemoImageSet.Load(256);
        var raw = new RawModelBenchmark(Path.Combine(RepositoryLayout.Root, "models", options.Model));
        var rawBest = raw.MeasureGrid([1, 2, 4, 8], [1, 2], [1, Environment.ProcessorCount], TimeSpan.FromSeconds(1)).MaxBy(p => p.ImagesPerSecond)!;
        Console.WriteLine(string.Create(c, $"raw {options.Model}: {rawBest.ImagesPerSecond:F1} img/s ({rawBest.Config})"));

        LocalTopology? topology = null;
        var api = options.Api;
        if (api is null)
        {
            topology = await LocalTopology.StartAsync(
                new LocalTopologyOptions(options.Folder, options.Workers, options.InferenceInstances, Models: [options.Model], EmptyDatabase: true),
                Console.Out,
                cancellationToken);
            api = topology.Api.Url;
        }

        try
        {
            var run = Guid.NewGuid().ToString("N")[..6];
            if (options.WarmupImages > 0)
            {
                // Freshly started services run their first requests on tier-0 JIT code, and their background JIT
                // keeps a fifth of a core busy for a while (measured per thread); cold pools, caches and ONNX Runtime
                // buffers too. Warm-up users go first, several at once like the measured ones, and are not counted,
                // as in the inference benchmark.
                var warmupUsers = Math.Clamp(options.Kind == "fairness" ? 8 : options.Users, 1, 8);
                var warmup = await RunUsersAsync(
                    api,
                    [.. Enumerable.Range(1, warmupUsers).Select(i => ($"warmup{i}-{run}", Math.Max(1, options.WarmupImages / warmupUsers), TimeSpan.Zero))],
                    images, options, null, null, cancellationToken);
                Console.WriteLine(string.Create(c, $"warm-up: {warmup.Sum(u => u.Completions.Count)} images by {warmupUsers} users (not counted)"));
            }

            List<UserRun> users;
            double? smallRatio = null;
            var cpu = new CpuUse();
            if (options.Kind == "fairness")
            {
                var alone = await RunUsersAsync(api, [.. Enumerable.Range(1, 7).Select(i => ($"small{i}-alone-{run}", 10, TimeSpan.Zero))], images, options, null, null, cancellationToken);
                users = await RunUsersAsync(
                    api,
                    [($"big-{run}", 1000, TimeSpan.Zero), .. Enumerable.Range(1, 7).Select(i => ($"small{i}-{run}", 10, TimeSpan.FromSeconds(3)))],
                    images, options, topology, cpu, cancellationToken);
                var withBig = Statistics.Percentile([.. users.Where(u => u.User.StartsWith("small", StringComparison.Ordinal)).SelectMany(Latencies)], 0.95);
                var withoutBig = Statistics.Percentile([.. alone.SelectMany(Latencies)], 0.95);
                smallRatio = withBig / withoutBig;
                Console.WriteLine(string.Create(c, $"small users' p95: {withoutBig:F0} ms alone, {withBig:F0} ms beside the big user"));
            }
            else
            {
                users = await RunUsersAsync(
                    api, [.. Enumerable.Range(1, options.Users).Select(i => ($"user{i}-{run}", options.ImagesPerUser, TimeSpan.Zero))],
                    images, options, topology, cpu, cancellationToken);
            }

            var (lost, duplicates) = topology is null ? ((long?)null, (long?)null) : await CountLostAndDuplicatesAsync(topology, users, cancellationToken);
            var served = topology is null ? null : await topology.ImagesServedAsync(cancellationToken);
            var tasks = topology is null ? null : await ReadTaskTimesAsync(topology, users, cancellationToken);
            Report(options, users, rawBest, smallRatio, lost ?? users.Sum(u => u.Images - u.Completions.Count), duplicates, served, tasks,
                cpu.PerImage(users.Sum(u => u.Completions.Count)));
            return 0;
        }
        finally
        {
            if (topology is not null)
            {
                await topology.DisposeAsync();
            }
        }
    }

    private static async Task<List<UserRun>> RunUsersAsync(
        Uri api, IReadOnlyList<(string Name, int Images, TimeSpan Delay)> users, List<(string FileName, byte[] Bytes)> images, Options options,
        LocalTopology? topology, CpuUse? cpu, CancellationToken cancellationToken)
    {
        // Everyone signs in and uploads first, so that the measured part is segmentation alone.
        var prepared = await Task.WhenAll(users.Select(async user =>
        {
            var http = new HttpClient { BaseAddress = api, Timeout = TimeSpan.FromMinutes(5) };
            var client = new CellSegApiClient(http);
            await client.SignInAsync(EmailOf(user.Name), "Load-password-1", cancellationToken);
            var project = await client.CreateProjectAsync(user.Name, cancellationToken);
            var files = Enumerable.Range(0, user.Images).Select(i => ($"{i:D4}-{images[i % images.Count].FileName}", images[i % images.Count].Bytes)).ToList();
            var uploaded = await client.UploadManyAsync(project.Id, files, 100, cancellationToken);
            return (user, client, project, uploaded);
        }));

        if (topology is not null && cpu is not null)
        {
            cpu.Before = CpuAccounting.Read(topology);
        }

        var runs = await Task.WhenAll(prepared.Select(async p =>
        {
            await Task.Delay(p.user.Delay, cancellationToken);
            var requested = DateTimeOffset.UtcNow;
            var submit = Stopwatch.StartNew();
            await p.client.RequestBatchSegmentationAsync(p.project.Id, [.. p.uploaded.Select(i => i.Id)], options.Model, cancellationToken);
            var submitMs = submit.Elapsed.TotalMilliseconds;
            var deadline = Stopwatch.StartNew();
            List<CellSegApiClient.ImageDto> current;
            do
            {
                // Completion times come from the images themselves (UpdatedAt); polling more often only loads the Api.
                await Task.Delay(1000, cancellationToken);
                current = await p.client.ListImagesAsync(p.project.Id, cancellationToken);
            }
            while (current.Any(i => i.Status is "queued" or "processing" or "none") && deadline.Elapsed.TotalSeconds < options.TimeoutSeconds);

            p.client.Http.Dispose();
            return new UserRun(
                p.user.Name,
                requested,
                submitMs,
                [.. current.Where(i => i.Status == "segmented").Select(i => i.UpdatedAt).Order()],
                p.user.Images,
                current.Count(i => i.Status == "failed"));
        }));
        if (topology is not null && cpu is not null)
        {
            cpu.After = CpuAccounting.Read(topology);
        }

        return [.. runs];
    }

    private static string EmailOf(string user) => $"{user}@load.cellseg";

    private static string[] Emails(List<UserRun> users) => [.. users.Select(u => EmailOf(u.User))];

    private static IEnumerable<double> Latencies(UserRun user) => user.Completions.Select(done => (done - user.Requested).TotalMilliseconds);

    /// <summary>This run's users' tasks that did not complete, and their images' results beyond one each.</summary>
    private static async Task<(long? Lost, long? Duplicates)> CountLostAndDuplicatesAsync(LocalTopology topology, List<UserRun> users, CancellationToken cancellationToken)
    {
        await using var connection = new NpgsqlConnection(topology.Postgres.ConnectionString("cellsegdb"));
        await connection.OpenAsync(cancellationToken);
        // The warm-up users' tasks are in the same database, so only this run's users are counted.
        await using var command = new NpgsqlCommand(
            """
            WITH mine AS (SELECT "Id" FROM "AspNetUsers" WHERE "Email" = ANY($1))
            SELECT (SELECT count(*) FROM segmentation_tasks WHERE "OwnerId" IN (SELECT "Id" FROM mine) AND "Status" <> 'Completed'),
                   (SELECT count(*) - count(DISTINCT r."ImageId") FROM segmentation_results r
                    JOIN segmentation_tasks t ON t."Id" = r."TaskId" WHERE t."OwnerId" IN (SELECT "Id" FROM mine))
            """,
            connection);
        command.Parameters.AddWithValue(Emails(users));
        long lost, duplicates;
        await using (var reader = await command.ExecuteReaderAsync(cancellationToken))
        {
            await reader.ReadAsync(cancellationToken);
            (lost, duplicates) = (reader.GetInt64(0), reader.GetInt64(1));
        }

        if (lost > 0)
        {
            // Say which tasks and where they stopped, so that a lost image can be looked for in the services' logs.
            await using var detail = new NpgsqlCommand(
                """
                SELECT u."Email", t."Status", count(*), min(t."Error") FROM segmentation_tasks t JOIN "AspNetUsers" u ON u."Id" = t."OwnerId"
                WHERE t."Status" <> 'Completed' AND u."Email" = ANY($1) GROUP BY u."Email", t."Status" ORDER BY 1, 2
                """,
                connection);
            detail.Parameters.AddWithValue(Emails(users));
            await using var rows = await detail.ExecuteReaderAsync(cancellationToken);
            while (await rows.ReadAsync(cancellationToken))
            {
                Console.WriteLine($"not completed: {rows.GetString(0)} {rows.GetString(1)} x{rows.GetInt64(2)} {(rows.IsDBNull(3) ? "" : rows.GetString(3))}");
            }
        }

        return (lost, duplicates);
    }

    /// <summary>When the worker started and finished each completed task of these users (from Postgres).</summary>
    private static async Task<Dictionary<string, List<(DateTimeOffset Started, DateTimeOffset Completed)>>> ReadTaskTimesAsync(
        LocalTopology topology, List<UserRun> users, CancellationToken cancellationToken)
    {
        await using var connection = new NpgsqlConnection(topology.Postgres.ConnectionString("cellsegdb"));
        await connection.OpenAsync(cancellationToken);
        await using var command = new NpgsqlCommand(
            """
            SELECT u."Email", t."StartedAt", t."CompletedAt" FROM segmentation_tasks t JOIN "AspNetUsers" u ON u."Id" = t."OwnerId"
            WHERE t."Status" = 'Completed' AND u."Email" = ANY($1)
            """,
            connection);
        command.Parameters.AddWithValue(Emails(users));
        var times = users.ToDictionary(u => u.User, _ => new List<(DateTimeOffset, DateTimeOffset)>());
        await using var reader = await command.ExecuteReaderAsync(cancellationToken);
        while (await reader.ReadAsync(cancellationToken))
        {
            var user = reader.GetString(0).Split('@')[0];
            times[user].Add((reader.GetFieldValue<DateTimeOffset>(1), reader.GetFieldValue<DateTimeOffset>(2)));
        }

        return times;
    }

    private static double Jain(double[] rates) =>
        rates.Sum() is var total && total > 0 ? total * total / (rates.Length * rates.Sum(r => r * r)) : 0;

    private static void Report(
        Options options, List<UserRun> users, RawMeasurement raw, double? smallRatio, long lost, long? duplicates, IReadOnlyList<long>? served,
        Dictionary<string, List<(DateTimeOffset Started, DateTimeOffset Completed)>>? tasks, Dictionary<string, double>? cpuMsPerImage)
    {
        var c = CultureInfo.InvariantCulture;
        Console.WriteLine();
        Console.WriteLine($"{"user",-24} {"images",6} {"done",6} {"failed",6} {"span s",8} {"img/s",7} {"p95 ms",8} {"submit ms",9} {"1st start ms",12}");
        foreach (var user in users)
        {
            var span = user.Completions.Count == 0 ? 0 : (user.Completions[^1] - user.Requested).TotalSeconds;
            // When the worker started the user's first image, from the user's request.
            var firstStart = tasks?.GetValueOrDefault(user.User) is { Count: > 0 } started ? (started.Min(t => t.Started) - user.Requested).TotalMilliseconds : double.NaN;
            Console.WriteLine(string.Create(c,
                $"{user.User,-24} {user.Images,6} {user.Completions.Count,6} {user.Failed,6} {span,8:F2} {(span > 0 ? user.Completions.Count / span : 0),7:F2} {Statistics.Percentile([.. Latencies(user)], 0.95),8:F0} {user.SubmitMs,9:F0} {firstStart,12:F0}"));
        }

        var start = users.Min(u => u.Requested);
        var end = users.Where(u => u.Completions.Count > 0).Max(u => u.Completions[^1]);
        var done = users.Sum(u => u.Completions.Count);
        var imagesPerSecond = done / (end - start).TotalSeconds;
        var latencies = users.SelectMany(Latencies).Order().ToArray();

        // Throughput of each user while every user is active: from the last request to the first user finishing.
        var windowStart = users.Max(u => u.Requested);
        var windowEnd = users.Where(u => u.Completions.Count > 0).Min(u => u.Completions[^1]);
        var window = (windowEnd - windowStart).TotalSeconds;
        var rates = users.Select(u => window > 0 ? u.Completions.Count(t => t > windowStart && t <= windowEnd) / window : 0).ToArray();
        var completionsJain = Jain(rates);

        // The scheduler's share while every user is backlogged: from the moment the last user's first image started
        // (everyone has work waiting from then on) to the moment the first user's last image started (after it, that
        // user has nothing waiting), the images each user had started. This is the scheduler's fairness itself, free
        // of when each request happened to reach the Api and of the images already at Inference (no preemption);
        // jain_fairness_completions keeps the plain completions between the last request and the first user done.
        // A user whose images had all started by the time the last user's first one did was served before that user
        // had anything waiting, not beside it (small users whose requests reached the worker 25 ms before the others',
        // while slots were free, took those slots and ran out as the late ones began): it is left out of the window,
        // and named, and fairness_users says how many users the window covers. Leaving it out cannot move the
        // window's start, since that user's own first image started no later.
        double? scheduledJain = null;
        var scheduledWindow = 0.0;
        var scheduledUsers = users;
        if (tasks is not null && users.All(u => tasks[u.User].Count > 0))
        {
            var from = users.Max(u => tasks[u.User].Min(t => t.Started));
            var servedBefore = users.Where(u => tasks[u.User].Max(t => t.Started) <= from).ToList();
            foreach (var early in servedBefore)
            {
                Console.WriteLine(string.Create(c,
                    $"fairness window: {early.User} left out, its last image started {(from - tasks[early.User].Max(t => t.Started)).TotalMilliseconds:F0} ms before the last user's first"));
            }

            scheduledUsers = [.. users.Except(servedBefore)];
            var to = scheduledUsers.Min(u => tasks[u.User].Max(t => t.Started));
            scheduledWindow = (to - from).TotalSeconds;
            if (to > from && scheduledUsers.Count > 1)
            {
                scheduledJain = Jain([.. scheduledUsers.Select(u => (double)tasks[u.User].Count(t => t.Started >= from && t.Started <= to))]);
            }
        }

        var jain = scheduledJain ?? completionsJain;

        Console.WriteLine();
        Console.WriteLine(string.Create(c, $"{options.Kind}: {done} images in {(end - start).TotalSeconds:F1} s = {imagesPerSecond:F1} img/s ({imagesPerSecond / raw.ImagesPerSecond:F2} x raw)"));
        if (served is not null)
        {
            Console.WriteLine(string.Create(c,
                $"{options.Workers} worker(s), {options.InferenceInstances} Inference instance(s): {imagesPerSecond / options.InferenceInstances:F1} img/s per instance; served {string.Join(", ", served)}"));
        }

        if (tasks is not null)
        {
            // A worker batch marks its tasks started with one timestamp, so equal start times are one batch.
            var batchSizes = tasks.Values.SelectMany(t => t).GroupBy(t => t.Started).Select(g => g.Count()).ToList();
            Console.WriteLine(string.Create(c, $"worker batches: {batchSizes.Count}, mean size {batchSizes.Average():F1}, largest {batchSizes.Max()}"));
        }

        if (cpuMsPerImage is not null)
        {
            Console.WriteLine(string.Create(c,
                $"CPU per segmented image: {string.Join(", ", cpuMsPerImage.Select(p => $"{p.Key} {p.Value:F1} ms"))}; total {cpuMsPerImage.Values.Sum():F1} ms"));
        }

        Console.WriteLine(JsonSerializer.Serialize(new Dictionary<string, object?>
        {
            ["scenario"] = options.Kind,
            ["model"] = options.Model,
            ["users"] = users.Count,
            ["workers"] = options.Api is null ? options.Workers : null,
            ["inference"] = options.Api is null ? options.InferenceInstances : null,
            ["served_by_inference"] = served,
            ["images"] = users.Sum(u => u.Images),
            ["images_s"] = Math.Round(imagesPerSecond, 2),
            ["images_s_per_inference"] = options.Api is null ? Math.Round(imagesPerSecond / options.InferenceInstances, 2) : null,
            ["raw_img_s"] = Math.Round(raw.ImagesPerSecond, 2),
            ["p50_ms"] = Math.Round(Statistics.Percentile(latencies, 0.50), 1),
            ["p95_ms"] = Math.Round(Statistics.Percentile(latencies, 0.95), 1),
            ["p99_ms"] = Math.Round(Statistics.Percentile(latencies, 0.99), 1),
            ["submit_p95_ms"] = Math.Round(Statistics.Percentile([.. users.Select(u => u.SubmitMs)], 0.95), 1),
            ["jain_fairness"] = Math.Round(jain, 3),
            ["jain_fairness_completions"] = Math.Round(completionsJain, 3),
            ["fairness_window_s"] = Math.Round(scheduledJain is null ? window : scheduledWindow, 2),
            ["fairness_users"] = scheduledJain is null ? users.Count : scheduledUsers.Count,
            ["completions_window_s"] = Math.Round(window, 2),
            ["small_users_p95_ratio"] = smallRatio is null ? null : Math.Round(smallRatio.Value, 3),
            ["cpu_ms_per_image"] = cpuMsPerImage,
            ["lost"] = lost,
            ["duplicates"] = duplicates,
        }));
    }
}
