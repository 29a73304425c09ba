using System.Net;
using System.Net.Sockets;
using CellSeg.Data.Queue;
using CellSeg.QueueWorker.Extensions;
using CellSeg.QueueWorker.Processing;
using Microsoft.AspNetCore.Builder;
using Microsoft.AspNetCore.Hosting;
using Microsoft.AspNetCore.Hosting.Server;
using Microsoft.AspNetCore.Hosting.Server.Features;
using Microsoft.AspNetCore.Http;
using Microsoft.AspNetCore.Http.Features;
using Microsoft.Extensions.Configuration;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Hosting;

namespace CellSeg.QueueWorker.Tests;

/// <summary>
/// The worker's Inference client as the QueueWorker registers it (service defaults first, then its own chain),
/// against real HTTP instances on loopback: one that works, and one that is dead or broken.
/// </summary>
public sealed class InferenceClientTests : IAsyncDisposable
{
    private const string Result = """
        {"model":"hrnet","device":"cpu","width":4,"height":4,"batchSize":1,"objectCount":0,"objects":[],
         "timings":{"queueMs":0,"preprocessMs":0,"inferenceMs":0,"postprocessMs":0}}
        """;

    private static readonly SegmentationWorkItem s_item = new(Guid.NewGuid(), Guid.NewGuid(), Guid.NewGuid(), Guid.NewGuid(), "hrnet", 0.5f, true, 0);

    private readonly List<IAsyncDisposable> _disposables = [];

    [Fact]
    public async Task EveryCallSucceedsWhenOneOfTwoInstancesIsDead()
    {
        var live = await StartInstanceAsync(_ => Results.Text(Result, "application/json"));
        var client = CreateClient(DeadAddress(), live.Url);
        var image = new byte[1000];

        // Concurrent calls, as a worker's slots make them: the dead instance's turn comes up again and again.
        var results = await Task.WhenAll(Enumerable.Range(0, 24).Select(_ => client.SegmentAsync(image, s_item, TestContext.Current.CancellationToken)));

        Assert.All(results, r => Assert.Equal("hrnet", r.Model));
        Assert.Equal(24, live.Requests);
        Assert.Equal(24 * image.Length, live.BodyBytes);
    }

    [Fact]
    public async Task AnInstanceAnsweringErrorsIsLeftAloneOnceItsCircuitOpensWhileTheOtherServesEverything()
    {
        var broken = await StartInstanceAsync(_ => Results.StatusCode(StatusCodes.Status500InternalServerError));
        var live = await StartInstanceAsync(_ => Results.Text(Result, "application/json"));
        var client = CreateClient(broken.Url, live.Url);

        for (var i = 0; i < 30; i++)
        {
            Assert.Equal("hrnet", (await client.SegmentAsync([1, 2, 3], s_item, TestContext.Current.CancellationToken)).Model);
        }

        Assert.Equal(30, live.Requests);
        // Its circuit opens after 5 failures (its own, not the live instance's successes) and stays open 15 s.
        Assert.InRange(broken.Requests, 5, 6);
    }

    [Fact]
    public async Task ACallWhoseInstanceDiesMidResponseIsRetriedOnTheOther()
    {
        var dying = await StartInstanceAsync(async context =>
        {
            // Headers and half the body, then the connection drops, as when the process is killed while writing.
            context.Response.ContentType = "application/json";
            context.Response.ContentLength = Result.Length;
            await context.Response.WriteAsync(Result[..(Result.Length / 2)], context.RequestAborted);
            await context.Response.Body.FlushAsync(context.RequestAborted);
            context.Abort();
            return Results.Empty;
        });
        var live = await StartInstanceAsync(_ => Results.Text(Result, "application/json"));
        var client = CreateClient(dying.Url, live.Url);

        for (var i = 0; i < 4; i++)
        {
            Assert.Equal("hrnet", (await client.SegmentAsync([1, 2, 3], s_item, TestContext.Current.CancellationToken)).Model);
        }

        Assert.True(dying.Requests > 0, "The dying instance was never called.");
        Assert.Equal(4, live.Requests);
    }

    [Fact]
    public async Task CancellingACallAbortsItOnTheInstanceAndSendsItNowhereElse()
    {
        var aborted = new TaskCompletionSource(TaskCreationOptions.RunContinuationsAsynchronously);
        async Task<IResult> Hang(HttpContext context)
        {
            try
            {
                await Task.Delay(Timeout.Infinite, context.RequestAborted);
            }
            catch (OperationCanceledException)
            {
                aborted.TrySetResult();
            }

            return Results.Ok();
        }

        var first = await StartInstanceAsync(Hang);
        var second = await StartInstanceAsync(Hang);
        var client = CreateClient(first.Url, second.Url);
        using var cancellation = CancellationTokenSource.CreateLinkedTokenSource(TestContext.Current.CancellationToken);
        cancellation.CancelAfter(TimeSpan.FromMilliseconds(500));

        await Assert.ThrowsAnyAsync<OperationCanceledException>(() => client.SegmentAsync([1, 2, 3], s_item, cancellation.Token));

        await aborted.Task.WaitAsync(TimeSpan.FromSeconds(10), TestContext.Current.CancellationToken);
        Assert.Equal(1, first.Requests + second.Requests);
    }

    private InferenceClient CreateClient(params Uri[] instances)
    {
        var builder = Host.CreateApplicationBuilder();
        builder.Configuration.AddInMemoryCollection(
            instances.Select((url, i) => KeyValuePair.Create($"services:inference:http:{i}", (string?)url.ToString())));
        builder.AddServiceDefaults();
        builder.AddInferenceClient();
        var host = builder.Build();
        _disposables.Add(host as IAsyncDisposable ?? throw new InvalidOperationException());
        return host.Services.GetRequiredService<InferenceClient>();
    }

    /// <summary>A loopback port that was free a moment ago: connections to it are refused, as to a killed process.</summary>
    private static Uri DeadAddress()
    {
        using var listener = new TcpListener(IPAddress.Loopback, 0);
        listener.Start();
        return new Uri($"http://127.0.0.1:{((IPEndPoint)listener.LocalEndpoint).Port}");
    }

    private async Task<FakeInstance> StartInstanceAsync(Func<HttpContext, Task<IResult>> segment)
    {
        var instance = new FakeInstance();
        var builder = WebApplication.CreateSlimBuilder();
        builder.WebHost.UseUrls("http://127.0.0.1:0");
        var app = builder.Build();
        app.MapPost("/v1/segment", async (HttpContext context) =>
        {
            instance.Count(await ReadBodyLengthAsync(context));
            return await segment(context);
        });
        await app.StartAsync(TestContext.Current.CancellationToken);
        _disposables.Add(app);
        instance.Url = new Uri(app.Services.GetRequiredService<IServer>().Features.GetRequiredFeature<IServerAddressesFeature>().Addresses.Single());
        return instance;
    }

    private Task<FakeInstance> StartInstanceAsync(Func<HttpContext, IResult> segment) =>
        StartInstanceAsync(context => Task.FromResult(segment(context)));

    private static async Task<long> ReadBodyLengthAsync(HttpContext context)
    {
        using var body = new MemoryStream();
        await context.Request.Body.CopyToAsync(body, context.RequestAborted);
        return body.Length;
    }

    public async ValueTask DisposeAsync()
    {
        foreach (var disposable in _disposables)
        {
            await disposable.DisposeAsync();
        }
    }

    private sealed class FakeInstance
    {
        private int _requests;
        private long _bodyBytes;

        public Uri Url { get; set; } = null!;
        public int Requests => Volatile.Read(ref _requests);
        public long BodyBytes => Interlocked.Read(ref _bodyBytes);

        public void Count(long bodyBytes)
        {
            Interlocked.Increment(ref _requests);
            Interlocked.Add(ref _bodyBytes, bodyBytes);
        }
    }
}
