using System.Diagnostics;
using System.Net.Http.Headers;

namespace CellSeg.LoadGen.Benchmarks;

public sealed record LoadResult(int Clients, long Images, long Failures, double Seconds, double P50Ms, double P95Ms, double P99Ms)
{
    public double ImagesPerSecond => Images / Seconds;
}

/// <summary>A fixed number of clients, each sending its next image as soon as the previous answer arrives.</summary>
public static class HttpLoad
{
    public static async Task<LoadResult> RunAsync(
        Uri baseAddress, string path, IReadOnlyList<byte[]> images, int clients, TimeSpan warmUp, TimeSpan duration, CancellationToken cancellationToken)
    {
        using var http = CreateClient(baseAddress, clients);

        await WarmUpAsync(http, path, images, clients, warmUp, cancellationToken);

        var latencies = new List<double>[clients];
        var failures = 0L;
        var clock = Stopwatch.StartNew();
        await Task.WhenAll(Enumerable.Range(0, clients).Select(async client =>
        {
            var mine = latencies[client] = [];
            var next = client;
            while (clock.Elapsed < duration)
            {
                if (!await SendTimedAsync(http, path, images[next++ % images.Count], mine, cancellationToken))
                {
                    Interlocked.Increment(ref failures);
                }
            }
        }));
        var seconds = clock.Elapsed.TotalSeconds;

        return Result(clients, [.. latencies.SelectMany(l => l)], failures, seconds);
    }

    /// <summary>
    /// One client, in blocks of <paramref name="block"/>, calling <paramref name="between"/> after each: a measurement
    /// of something else (the raw network call) taken turn about with the service's, so that both see the same stretches
    /// of a machine whose slow moments come in bursts. Only the service's blocks count towards <paramref name="duration"/>.
    /// </summary>
    public static async Task<LoadResult> RunOneClientTakingTurnsAsync(
        Uri baseAddress, string path, IReadOnlyList<byte[]> images, TimeSpan warmUp, TimeSpan duration, TimeSpan block, Action between, CancellationToken cancellationToken)
    {
        using var http = CreateClient(baseAddress, clients: 1);

        await WarmUpAsync(http, path, images, 1, warmUp, cancellationToken);

        var latencies = new List<double>();
        var failures = 0L;
        var next = 0;
        var measuring = new Stopwatch();
        while (measuring.Elapsed < duration)
        {
            var end = measuring.Elapsed + block;
            measuring.Start();
            while (measuring.Elapsed < end)
            {
                if (!await SendTimedAsync(http, path, images[next++ % images.Count], latencies, cancellationToken))
                {
                    failures++;
                }
            }

            measuring.Stop();
            between();
        }

        return Result(1, latencies, failures, measuring.Elapsed.TotalSeconds);
    }

    private static LoadResult Result(int clients, List<double> latencies, long failures, double seconds) =>
        new(clients, latencies.Count, failures, seconds,
            Statistics.Percentile(latencies, 0.50), Statistics.Percentile(latencies, 0.95), Statistics.Percentile(latencies, 0.99));

    /// <summary>Sends one image; where it succeeds, adds its milliseconds to <paramref name="latencies"/>.</summary>
    private static async Task<bool> SendTimedAsync(HttpClient http, string path, byte[] image, List<double> latencies, CancellationToken cancellationToken)
    {
        var started = Stopwatch.GetTimestamp();
        if (!await SendAsync(http, path, image, cancellationToken))
        {
            return false;
        }

        latencies.Add(Stopwatch.GetElapsedTime(started).TotalMilliseconds);
        return true;
    }

    /// <summary>
    /// Sends images from <paramref name="clients"/> clients for <paramref name="duration"/> and discards the answers:
    /// the first seconds of a service, and of this process's HTTP client, run slower than the steady state.
    /// </summary>
    public static async Task WarmUpAsync(Uri baseAddress, string path, IReadOnlyList<byte[]> images, int clients, TimeSpan duration, CancellationToken cancellationToken)
    {
        using var http = CreateClient(baseAddress, clients);
        await WarmUpAsync(http, path, images, clients, duration, cancellationToken);
    }

    private static HttpClient CreateClient(Uri baseAddress, int clients) =>
        new(new SocketsHttpHandler { MaxConnectionsPerServer = clients + 4 })
        {
            BaseAddress = baseAddress,
            Timeout = TimeSpan.FromMinutes(2),
        };

    private static async Task WarmUpAsync(HttpClient http, string path, IReadOnlyList<byte[]> images, int clients, TimeSpan duration, CancellationToken cancellationToken)
    {
        var clock = Stopwatch.StartNew();
        await Task.WhenAll(Enumerable.Range(0, clients).Select(async client =>
        {
            var next = client;
            while (clock.Elapsed < duration)
            {
                await SendAsync(http, path, images[next++ % images.Count], cancellationToken);
            }
        }));
    }

    private static async Task<bool> SendAsync(HttpClient http, string path, byte[] image, CancellationToken cancellationToken)
    {
        using var content = new ByteArrayContent(image);
        content.Headers.ContentType = new MediaTypeHeaderValue("application/octet-stream");
        using var response = await http.PostAsync(path, content, cancellationToken);
        // Read the whole answer: its polygons are part of the work being measured.
        await response.Content.ReadAsByteArrayAsync(cancellationToken);
        return response.IsSuccessStatusCode;
    }
}
