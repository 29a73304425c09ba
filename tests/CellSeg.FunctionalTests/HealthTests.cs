using System.Net;
using CellSeg.LoadGen.Topology;

namespace CellSeg.FunctionalTests;

/// <summary>
/// Readiness follows the stores: stopping Redis or Postgres turns the Api's and the QueueWorker's <c>/health</c>
/// unhealthy, starting them again turns it healthy; <c>/alive</c> never depends on them. This class stops its
/// servers, so it has a Postgres and a Redis of its own.
/// </summary>
public sealed class HealthTests : IAsyncLifetime
{
    private readonly string _folder = Path.Combine(Path.GetTempPath(), $"cellseg-health-{Guid.NewGuid():N}");
    private PostgresServerProcess _postgres = null!;
    private RedisServerProcess _redis = null!;
    private CellSegStack _stack = null!;

    public async ValueTask InitializeAsync()
    {
        var ct = TestContext.Current.CancellationToken;
        _postgres = await PostgresServerProcess.StartAsync(Path.Combine(_folder, "postgres"), ["cellsegdb"], ct);
        _redis = await RedisServerProcess.StartAsync(Path.Combine(_folder, "redis"), ct);
        _stack = await CellSegStack.StartAsync(_postgres.ConnectionString("cellsegdb"), _redis.ConnectionString, ct);
    }

    [Fact]
    public async Task HealthFollowsRedisDownAndBackWhileAliveStaysUp()
    {
        await AssertEveryServiceAsync(HttpStatusCode.OK);

        await _redis.StopAsync();
        await AssertEveryServiceAsync(HttpStatusCode.ServiceUnavailable);
        await AssertAliveAsync();

        await _redis.StartAgainAsync(TestContext.Current.CancellationToken);
        await AssertEveryServiceAsync(HttpStatusCode.OK);
    }

    [Fact]
    public async Task HealthFollowsPostgresDownAndBackWhileAliveStaysUp()
    {
        await AssertEveryServiceAsync(HttpStatusCode.OK);

        await _postgres.StopAsync(TestContext.Current.CancellationToken);
        await AssertEveryServiceAsync(HttpStatusCode.ServiceUnavailable);
        await AssertAliveAsync();

        await _postgres.StartAgainAsync(TestContext.Current.CancellationToken);
        await AssertEveryServiceAsync(HttpStatusCode.OK);
    }

    [Fact]
    public async Task InferenceHealthReportsItsLoadedModelAndDevice()
    {
        using var http = _stack.Inference.CreateHttpClient();
        var body = await http.GetStringAsync("/health", TestContext.Current.CancellationToken);
        Assert.Contains("\"hrnet\":\"ready on cpu\"", body, StringComparison.Ordinal);
    }

    private async Task AssertEveryServiceAsync(HttpStatusCode expected)
    {
        foreach (var url in new[] { _stack.Api.Url, _stack.Worker.Url })
        {
            using var http = new HttpClient { BaseAddress = url, Timeout = TimeSpan.FromSeconds(20) };
            await CellSegStack.WaitUntilAsync(
                async () =>
                {
                    using var response = await http.GetAsync("/health", TestContext.Current.CancellationToken);
                    return response.StatusCode == expected;
                },
                TimeSpan.FromSeconds(30),
                $"{url}health to answer {(int)expected}");
        }
    }

    private async Task AssertAliveAsync()
    {
        foreach (var url in new[] { _stack.Api.Url, _stack.Worker.Url, _stack.Inference.Url })
        {
            using var http = new HttpClient { BaseAddress = url };
            using var response = await http.GetAsync("/alive", TestContext.Current.CancellationToken);
            Assert.Equal(HttpStatusCode.OK, response.StatusCode);
        }
    }

    public async ValueTask DisposeAsync()
    {
        await _stack.DisposeAsync();
        await _redis.DisposeAsync();
        await _postgres.DisposeAsync();
        try
        {
            Directory.Delete(_folder, recursive: true);
        }
        catch (IOException)
        {
            // Left to the OS's temp cleaning.
        }
    }
}
