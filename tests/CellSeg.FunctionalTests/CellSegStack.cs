using CellSeg.Api;
using CellSeg.Inference;
using CellSeg.LoadGen;
using CellSeg.LoadGen.Topology;
using CellSeg.QueueWorker;

namespace CellSeg.FunctionalTests;

/// <summary>
/// Api, QueueWorker and Inference of one test class, hosted in-process on real Kestrel ports against the real
/// Postgres and Redis of <see cref="StoresFixture"/>, wired with the AppHost's configuration keys.
/// </summary>
public sealed class CellSegStack : IAsyncDisposable
{
    private readonly IReadOnlyDictionary<string, string?> _apiSettings;

    private CellSegStack(
        ServiceFactory<InferenceTelemetry> inference,
        ServiceFactory<ApiTelemetry> api,
        ServiceFactory<QueueWorkerTelemetry> worker,
        string streamKey,
        IReadOnlyDictionary<string, string?> apiSettings)
    {
        _apiSettings = apiSettings;
        Inference = inference;
        Api = api;
        Worker = worker;
        StreamKey = streamKey;
    }

    public ServiceFactory<InferenceTelemetry> Inference { get; }
    public ServiceFactory<ApiTelemetry> Api { get; }
    public ServiceFactory<QueueWorkerTelemetry> Worker { get; }
    public string StreamKey { get; }

    public static async Task<CellSegStack> StartAsync(
        string database,
        string redis,
        CancellationToken cancellationToken,
        IReadOnlyDictionary<string, string?>? workerSettings = null,
        IReadOnlyDictionary<string, string?>? apiSettings = null)
    {
        var streamKey = $"cellseg:test:{Guid.NewGuid():N}";
        var shared = new Dictionary<string, string?>
        {
            ["ConnectionStrings:cellsegdb"] = database,
            ["ConnectionStrings:redis"] = redis,
            ["SegmentationQueue:StreamKey"] = streamKey,
            ["SegmentationQueue:SignalChannel"] = $"{streamKey}:signal",
        };

        var inference = new ServiceFactory<InferenceTelemetry>(new Dictionary<string, string?>
        {
            ["Inference:ModelsPath"] = Path.Combine(RepositoryLayout.Root, "models"),
            ["Inference:Models:0"] = "hrnet",
        });
        var allApiSettings = shared.Concat(apiSettings ?? new Dictionary<string, string?>()).ToDictionary();
        var api = new ServiceFactory<ApiTelemetry>(allApiSettings);
        var worker = new ServiceFactory<QueueWorkerTelemetry>(new Dictionary<string, string?>(shared)
        {
            ["services:inference:http:0"] = inference.Url.ToString(),
        }.Concat(workerSettings ?? new Dictionary<string, string?>()).ToDictionary());
        var stack = new CellSegStack(inference, api, worker, streamKey, allApiSettings);

        try
        {
            // Inference first (the worker waits for it), then the Api, which migrates the database.
            await StartAsync(inference, inference.Url, cancellationToken);
            await StartAsync(api, api.Url, cancellationToken);
            await StartAsync(worker, worker.Url, cancellationToken);
            return stack;
        }
        catch
        {
            await stack.DisposeAsync();
            throw;
        }
    }

    /// <summary>A lab user signed in with a bearer token.</summary>
    public async Task<CellSegApiClient> SignInAsync(string email, CancellationToken cancellationToken)
    {
        var client = new CellSegApiClient(Api.CreateHttpClient());
        await client.SignInAsync(email, "Test-password-1", cancellationToken);
        return client;
    }

    /// <summary>Another Api replica on the same stores, as a scaled deployment runs them; the caller disposes it.</summary>
    public async Task<ServiceFactory<ApiTelemetry>> StartApiReplicaAsync(CancellationToken cancellationToken)
    {
        var replica = new ServiceFactory<ApiTelemetry>(_apiSettings);
        try
        {
            await StartAsync(replica, replica.Url, cancellationToken);
            return replica;
        }
        catch
        {
            await replica.DisposeAsync();
            throw;
        }
    }

    public static async Task WaitUntilAsync(Func<Task<bool>> condition, TimeSpan timeout, string what)
    {
        var deadline = DateTime.UtcNow + timeout;
        while (!await condition())
        {
            if (DateTime.UtcNow > deadline)
            {
                throw new TimeoutException($"Timed out after {timeout.TotalSeconds} s waiting for {what}.");
            }

            await Task.Delay(100);
        }
    }

    public async ValueTask DisposeAsync()
    {
        await Worker.DisposeAsync();
        await Api.DisposeAsync();
        await Inference.DisposeAsync();
    }

    private static async Task StartAsync<T>(ServiceFactory<T> factory, Uri url, CancellationToken cancellationToken) where T : class
    {
        factory.StartServer();
        using var http = new HttpClient { BaseAddress = url, Timeout = TimeSpan.FromSeconds(10) };
        await WaitUntilAsync(
            async () =>
            {
                using var response = await http.GetAsync("/health", cancellationToken);
                return response.IsSuccessStatusCode;
            },
            TimeSpan.FromSeconds(60),
            $"{typeof(T).Assembly.GetName().Name} to be healthy");
    }
}
