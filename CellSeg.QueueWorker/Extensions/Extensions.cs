using System.Net;
using CellSeg.Data;
using CellSeg.QueueWorker.Processing;
using Microsoft.Extensions.Http.Resilience;
using Microsoft.Extensions.Options;
using Polly;
using Polly.CircuitBreaker;

namespace CellSeg.QueueWorker.Extensions;

public static class Extensions
{
    /// <summary>A batch on a busy CPU takes tens of seconds; an attempt is given up after this long.</summary>
    private static readonly TimeSpan s_attemptTimeout = TimeSpan.FromSeconds(60);

    /// <summary>Every attempt of one image, on every instance, together.</summary>
    private static readonly TimeSpan s_totalTimeout = TimeSpan.FromSeconds(180);

    public static void AddApplicationServices(this IHostApplicationBuilder builder)
    {
        builder.AddNpgsqlDbContext<CellSegDbContext>("cellsegdb");
        builder.AddRedisClient("redis");

        builder.Services.AddOptions<SegmentationWorkerOptions>()
            .BindConfiguration(SegmentationWorkerOptions.SectionName)
            .ValidateDataAnnotations()
            .ValidateOnStart();

        builder.Services.AddRedisStreamsSegmentationQueue();
        builder.Services.AddSingleton(TimeProvider.System);
        builder.Services.AddSingleton<QueueWorkerTelemetry>();
        builder.AddInferenceClient();
        builder.Services.AddSingleton<InferenceModelCatalog>();
        builder.Services.AddSingleton<SegmentationTaskRunner>();
        builder.Services.AddHostedService<SegmentationWorker>();
        builder.Services.AddHostedService<TaskReconciler>();
    }

    /// <summary>
    /// The client of the Inference instances (<c>services:inference:http:0..n</c>). Its handlers, outermost first:
    /// <list type="number">
    /// <item>the request pipeline: a total timeout over every attempt, and retries;</item>
    /// <item>service discovery (<see cref="InstanceRoutingHandler"/>), which picks the instance of each attempt: round-robin,
    /// and a retry to an instance the request has not tried yet;</item>
    /// <item>the instance pipeline, one per resolved authority: a circuit breaker and the attempt timeout;</item>
    /// <item><see cref="ResponseBufferingHandler"/>, so that those also cover reading the response body.</item>
    /// </list>
    /// The defaults' chain (one standard handler outside discovery) is replaced whole: its circuit breaker would
    /// count every instance together, and a handler inside discovery would retry on the instance that just failed.
    /// </summary>
    public static void AddInferenceClient(this IHostApplicationBuilder builder)
    {
        builder.Services.AddSingleton<InstanceRotation>();
        builder.Services.AddTransient<InstanceRoutingHandler>();
        builder.Services.AddTransient<ResponseBufferingHandler>();

        var client = builder.Services.AddHttpClient<InferenceClient>((sp, http) =>
        {
            http.BaseAddress = sp.GetRequiredService<IOptions<SegmentationWorkerOptions>>().Value.InferenceBaseAddress;
            // The pipeline's total timeout bounds the request; HttpClient's own 100 s would cut it short.
            http.Timeout = Timeout.InfiniteTimeSpan;
        });
        client.ConfigureAdditionalHttpMessageHandlers((handlers, _) => handlers.Clear());

        client.AddResilienceHandler("request", pipeline => pipeline
            .AddTimeout(s_totalTimeout)
            .AddRetry(RequestRetry()));

        client.AddHttpMessageHandler<InstanceRoutingHandler>();

        client.AddResilienceHandler("instance", pipeline => pipeline
            .AddCircuitBreaker(new HttpCircuitBreakerStrategyOptions
            {
                // An instance that stops answering is left alone after a few failures, not after the defaults' 100.
                FailureRatio = 0.5,
                MinimumThroughput = 5,
                SamplingDuration = TimeSpan.FromSeconds(30),
                BreakDuration = TimeSpan.FromSeconds(15),
                ShouldHandle = args => ValueTask.FromResult(InstanceFailed(args.Outcome)),
            })
            .AddTimeout(s_attemptTimeout))
            .SelectPipelineByAuthority();

        client.AddHttpMessageHandler<ResponseBufferingHandler>();
    }

    private static HttpRetryStrategyOptions RequestRetry()
    {
        var retry = new HttpRetryStrategyOptions
        {
            MaxRetryAttempts = 3,
            Delay = TimeSpan.FromSeconds(1),
            BackoffType = DelayBackoffType.Exponential,
            UseJitter = true,
            // An open circuit is one instance refusing: the retry goes to another instance.
            ShouldHandle = args => ValueTask.FromResult(
                HttpClientResiliencePredicates.IsTransient(args.Outcome) || args.Outcome.Exception is BrokenCircuitException),
        };

        // Nothing was sent to an instance behind an open circuit, so there is nothing to back off from.
        var retryAfter = retry.DelayGenerator;
        retry.DelayGenerator = args => args.Outcome.Exception is BrokenCircuitException
            ? ValueTask.FromResult<TimeSpan?>(TimeSpan.Zero)
            : retryAfter?.Invoke(args) ?? ValueTask.FromResult<TimeSpan?>(null);
        return retry;
    }

    /// <summary>
    /// What counts against one instance: no answer, a timeout, a server error. A 429 is an instance that is busy,
    /// not broken; the retry still moves that request elsewhere.
    /// </summary>
    private static bool InstanceFailed(Outcome<HttpResponseMessage> outcome) =>
        outcome.Result?.StatusCode != HttpStatusCode.TooManyRequests && HttpClientResiliencePredicates.IsTransient(outcome);
}
