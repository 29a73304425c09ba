using CellSeg.Data;
using CellSeg.QueueWorker.Processing;
using Microsoft.Extensions.Options;

namespace CellSeg.QueueWorker.Extensions;

public static class Extensions
{
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
        // The defaults' standard handler (10 s per attempt) would retry a batch still running on a busy CPU,
        // so this client swaps it for one with longer timeouts.
#pragma warning disable EXTEXP0001 // RemoveAllResilienceHandlers is the documented way to replace the default handler.
        builder.Services.AddHttpClient<InferenceClient>((sp, http) =>
            http.BaseAddress = sp.GetRequiredService<IOptions<SegmentationWorkerOptions>>().Value.InferenceBaseAddress)
            .RemoveAllResilienceHandlers()
            .AddStandardResilienceHandler(resilience =>
            {
                resilience.AttemptTimeout.Timeout = TimeSpan.FromSeconds(60);
                resilience.TotalRequestTimeout.Timeout = TimeSpan.FromSeconds(180);
                resilience.CircuitBreaker.SamplingDuration = TimeSpan.FromSeconds(120);
            });
#pragma warning restore EXTEXP0001
        builder.Services.AddSingleton<InferenceModelCatalog>();
        builder.Services.AddSingleton<SegmentationTaskRunner>();
        builder.Services.AddHostedService<SegmentationWorker>();
        builder.Services.AddHostedService<TaskReconciler>();
    }
}
