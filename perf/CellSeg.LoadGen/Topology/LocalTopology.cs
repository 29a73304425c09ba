using System.Net.Http.Json;
using System.Text.Json;

namespace CellSeg.LoadGen.Topology;

/// <param name="InferenceNiceness">
/// The <c>nice</c> level of the Inference processes. All services share this machine's cores, and Inference alone
/// would keep them busy; below normal priority it runs on what the Api, the worker, Postgres and Redis leave, as
/// it would on its own nodes in a cluster, so requests are accepted and batches fed without waiting behind it.
/// </param>
/// <param name="EmptyDatabase">
/// Whether the run starts from an empty database: the benchmark scenarios do, so that no run measures tables grown by
/// the earlier ones (or has their unfinished tasks re-dispatched); the demo keeps its data between runs.
/// </param>
public sealed record LocalTopologyOptions(
    string Folder,
    int Workers = 1,
    int InferenceInstances = 1,
    IReadOnlyList<string>? Models = null,
    IReadOnlyDictionary<string, string>? WorkerSettings = null,
    int InferenceNiceness = 10,
    bool EmptyDatabase = false);

/// <summary>
/// The whole CellSeg topology as local processes: Postgres, Redis, Inference, Api and QueueWorker, wired with
/// the configuration keys the AppHost injects (<c>ConnectionStrings__cellsegdb</c>, <c>ConnectionStrings__redis</c>,
/// <c>services__inference__http__N</c>).
/// </summary>
public sealed class LocalTopology : IAsyncDisposable
{
    private readonly List<ServiceProcess> _services = [];

    private LocalTopology(PostgresServerProcess postgres, RedisServerProcess redis)
    {
        Postgres = postgres;
        Redis = redis;
    }

    public PostgresServerProcess Postgres { get; }
    public RedisServerProcess Redis { get; }
    public IReadOnlyList<ServiceProcess> Services => _services;
    public ServiceProcess Api => _services.Single(s => s.Name == "api");
    public IReadOnlyList<ServiceProcess> Workers => [.. _services.Where(s => s.Name.StartsWith("queueworker", StringComparison.Ordinal))];
    public IReadOnlyList<ServiceProcess> Inference => [.. _services.Where(s => s.Name.StartsWith("inference", StringComparison.Ordinal))];

    public static async Task<LocalTopology> StartAsync(LocalTopologyOptions options, TextWriter log, CancellationToken cancellationToken)
    {
        ArgumentOutOfRangeException.ThrowIfLessThan(options.Workers, 1);
        ArgumentOutOfRangeException.ThrowIfLessThan(options.InferenceInstances, 1);
        var logs = Path.Combine(options.Folder, "logs");
        log.WriteLine($"Starting Postgres and Redis under {options.Folder}");
        var postgres = await PostgresServerProcess.StartAsync(Path.Combine(options.Folder, "postgres"), ["cellsegdb"], options.EmptyDatabase, cancellationToken);
        RedisServerProcess? redis = null;
        LocalTopology? topology = null;
        try
        {
            redis = await RedisServerProcess.StartAsync(Path.Combine(options.Folder, "redis"), cancellationToken);
            topology = new LocalTopology(postgres, redis);
            using var http = new HttpClient { Timeout = TimeSpan.FromSeconds(5) };

            var modelSettings = new Dictionary<string, string>();
            var models = options.Models ?? ["hrnet"];
            for (var i = 0; i < models.Count; i++)
            {
                modelSettings[$"Inference__Models__{i}"] = models[i];
            }

            for (var i = 0; i < options.InferenceInstances; i++)
            {
                topology.Add(ServiceProcess.Create($"inference-{i}", "CellSeg.Inference", modelSettings, logs, options.InferenceNiceness));
            }

            await StartAllAsync(topology.Inference, http, log, cancellationToken);

            var data = new Dictionary<string, string>
            {
                ["ConnectionStrings__cellsegdb"] = postgres.ConnectionString("cellsegdb"),
                ["ConnectionStrings__redis"] = redis.ConnectionString,
            };

            // The Api applies the migrations; the workers wait for them. It accepts the models Inference serves.
            var apiSettings = new Dictionary<string, string>(data) { ["Segmentation__DefaultModel"] = models[0] };
            for (var i = 0; i < models.Count; i++)
            {
                apiSettings[$"Segmentation__Models__{i}"] = models[i];
            }

            topology.Add(ServiceProcess.Create("api", "CellSeg.Api", apiSettings, logs));
            await StartAllAsync([topology.Api], http, log, cancellationToken);

            var workerSettings = new Dictionary<string, string>(data);
            foreach (var (key, value) in options.WorkerSettings ?? new Dictionary<string, string>())
            {
                workerSettings[key] = value;
            }

            for (var i = 0; i < topology.Inference.Count; i++)
            {
                workerSettings[$"services__inference__http__{i}"] = topology.Inference[i].Url.ToString();
            }

            for (var i = 0; i < options.Workers; i++)
            {
                topology.Add(ServiceProcess.Create($"queueworker-{i}", "CellSeg.QueueWorker", workerSettings, logs));
            }

            await StartAllAsync(topology.Workers, http, log, cancellationToken);
            return topology;
        }
        catch
        {
            if (topology is not null)
            {
                await topology.DisposeAsync();
            }
            else
            {
                if (redis is not null)
                {
                    await redis.DisposeAsync();
                }

                await postgres.DisposeAsync();
            }

            throw;
        }
    }

    /// <summary>The images each Inference instance has served since it started, as its <c>/v1/models</c> reports them.</summary>
    public async Task<IReadOnlyList<long>> ImagesServedAsync(CancellationToken cancellationToken) =>
        await Task.WhenAll(Inference.Select(instance => ImagesServedAsync(instance, cancellationToken)));

    /// <summary>The images one Inference instance has served since it started.</summary>
    public static async Task<long> ImagesServedAsync(ServiceProcess inference, CancellationToken cancellationToken)
    {
        using var http = new HttpClient { Timeout = TimeSpan.FromSeconds(10) };
        var models = await http.GetFromJsonAsync<JsonElement>(new Uri(inference.Url, "/v1/models"), cancellationToken);
        return models.EnumerateArray().Sum(m => m.GetProperty("imagesServed").GetInt64());
    }

    private void Add(ServiceProcess service) => _services.Add(service);

    private static async Task StartAllAsync(IReadOnlyList<ServiceProcess> services, HttpClient http, TextWriter log, CancellationToken cancellationToken)
    {
        foreach (var service in services)
        {
            service.Start();
        }

        foreach (var service in services)
        {
            await service.WaitHealthyAsync(http, TimeSpan.FromSeconds(90), cancellationToken);
            log.WriteLine($"  {service.Name,-14} healthy at {service.Url}");
        }
    }

    public async ValueTask DisposeAsync()
    {
        // Producers first, so nothing new is written while the stores go down.
        foreach (var service in Enumerable.Reverse(_services))
        {
            await service.DisposeAsync();
        }

        await Redis.DisposeAsync();
        await Postgres.DisposeAsync();
    }
}
