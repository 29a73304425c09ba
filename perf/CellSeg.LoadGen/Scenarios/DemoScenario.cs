using System.Diagnostics;
using System.Globalization;
using System.Text.Json;
using CellSeg.LoadGen.Topology;

namespace CellSeg.LoadGen.Scenarios;

/// <summary>
/// README command 1: the bundled demo images pushed through the whole topology by several users at once,
/// with per-image object counts, per-user timings and overall throughput.
/// </summary>
public static class DemoScenario
{
    public sealed record Options(int Users, string Model, Uri? Api, string Folder, int Workers = 1, int InferenceInstances = 1);

    private sealed record ImageOutcome(string User, string FileName, int Width, int Height, string Status, int Objects, string? Error);

    private sealed record UserOutcome(string User, int Images, double UploadMs, double DoneMs);

    public static async Task<int> RunAsync(Options options, CancellationToken cancellationToken)
    {
        var files = DemoImageSet.Load();
        Console.WriteLine($"{files.Count} demo images from {RepositoryLayout.DemoImages}, {options.Users} users, model {options.Model}");
        if (options.Api is null)
        {
            Console.WriteLine($"{options.Workers} QueueWorker and {options.InferenceInstances} Inference process(es)");
        }


        LocalTopology? topology = null;
        var api = options.Api;
        if (api is null)
        {
            topology = await LocalTopology.StartAsync(
                new LocalTopologyOptions(options.Folder, options.Workers, options.InferenceInstances, Models: [options.Model]),
                Console.Out,
                cancellationToken);
            api = topology.Api.Url;
        }

        try
        {
            var clock = Stopwatch.StartNew();
            var runs = Enumerable.Range(1, options.Users)
                .Select(i => RunUserAsync($"user{i}@cellseg.local", api, files, options.Model, clock, cancellationToken))
                .ToList();
            var results = await Task.WhenAll(runs);
            var wall = clock.Elapsed;

            Print(results, wall, ExpectedObjects());
            if (topology is not null)
            {
                Console.WriteLine($"Images served by each Inference instance: {string.Join(", ", await topology.ImagesServedAsync(cancellationToken))}");
            }

            return results.SelectMany(r => r.Images).All(i => i.Status == "segmented") ? 0 : 1;
        }
        finally
        {
            if (topology is not null)
            {
                Console.WriteLine("Stopping the local topology");
                await topology.DisposeAsync();
            }
        }
    }

    private static async Task<(UserOutcome User, List<ImageOutcome> Images)> RunUserAsync(
        string user, Uri api, List<(string FileName, byte[] Bytes)> files, string model, Stopwatch clock, CancellationToken cancellationToken)
    {
        using var http = new HttpClient { BaseAddress = api, Timeout = TimeSpan.FromMinutes(2) };
        var client = new CellSegApiClient(http);
        await client.SignInAsync(user, "Demo-password-1", cancellationToken);
        var project = await client.CreateProjectAsync($"Demo {DateTimeOffset.UtcNow:yyyy-MM-dd HH:mm:ss}", cancellationToken);

        var started = clock.Elapsed;
        var upload = await client.UploadAsync(project.Id, files, cancellationToken);
        var uploadMs = (clock.Elapsed - started).TotalMilliseconds;
        foreach (var image in upload.Images)
        {
            await client.RequestSegmentationAsync(image.Id, model, cancellationToken);
        }

        // One listing per poll and user, so watching does not compete with the work it watches.
        var pending = upload.Images.Select(i => i.Id).ToHashSet();
        var outcomes = new List<ImageOutcome>();
        while (pending.Count > 0)
        {
            await Task.Delay(250, cancellationToken);
            foreach (var current in await client.ListImagesAsync(project.Id, cancellationToken))
            {
                if (current.Status is not ("segmented" or "failed") || !pending.Remove(current.Id))
                {
                    continue;
                }

                var objects = current.Status == "segmented" ? (await client.GetResultAsync(current.Id, cancellationToken)).ObjectCount : 0;
                outcomes.Add(new ImageOutcome(user, current.FileName, current.Width, current.Height, current.Status, objects, current.Error));
            }
        }

        outcomes.AddRange(upload.Rejected.Select(r => new ImageOutcome(user, r.FileName, 0, 0, "rejected", 0, r.Reason)));
        return (new UserOutcome(user, upload.Images.Count, uploadMs, (clock.Elapsed - started).TotalMilliseconds), outcomes);
    }

    /// <summary>The connected components of each demo image's true mask: what a perfect segmentation finds.</summary>
    private static Dictionary<string, int> ExpectedObjects()
    {
        var manifest = Path.Combine(RepositoryLayout.DemoImages, "manifest.json");
        using var document = JsonDocument.Parse(File.ReadAllText(manifest));
        return document.RootElement.GetProperty("images").EnumerateArray().ToDictionary(
            image => image.GetProperty("file").GetString()!,
            image => image.GetProperty("connectedComponents").GetInt32());
    }

    private static void Print((UserOutcome User, List<ImageOutcome> Images)[] results, TimeSpan wall, Dictionary<string, int> expected)
    {
        var c = CultureInfo.InvariantCulture;
        Console.WriteLine();
        Console.WriteLine($"{"user",-22} {"image",-32} {"size",-11} {"status",-10} {"objects",7} {"true",5}");
        foreach (var image in results.SelectMany(r => r.Images).OrderBy(i => i.User, StringComparer.Ordinal).ThenBy(i => i.FileName, StringComparer.Ordinal))
        {
            Console.WriteLine(string.Create(c, $"{image.User,-22} {image.FileName,-32} {image.Width + "x" + image.Height,-11} {image.Status,-10} {image.Objects,7} {(expected.TryGetValue(image.FileName, out var truth) ? truth.ToString(c) : "?"),5}{(image.Error is null ? "" : "  " + image.Error)}"));
        }

        Console.WriteLine();
        Console.WriteLine($"{"user",-22} {"images",6} {"upload ms",10} {"all done s",11} {"img/s",7}");
        foreach (var (user, _) in results)
        {
            Console.WriteLine(string.Create(c, $"{user.User,-22} {user.Images,6} {user.UploadMs,10:F0} {user.DoneMs / 1000,11:F2} {user.Images / (user.DoneMs / 1000),7:F2}"));
        }

        var total = results.Sum(r => r.User.Images);
        var segmented = results.SelectMany(r => r.Images).Count(i => i.Status == "segmented");
        Console.WriteLine();
        Console.WriteLine(string.Create(c, $"Total: {segmented}/{total} images segmented by {results.Length} users in {wall.TotalSeconds:F2} s = {segmented / wall.TotalSeconds:F2} images/s"));
    }
}
