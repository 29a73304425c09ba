using CellSeg.Data.Queue;
using CellSeg.Data.Queue.RedisStreams;
using Microsoft.Extensions.DependencyInjection;

namespace CellSeg.Data;

public static class QueueServiceCollectionExtensions
{
    /// <summary>Registers the segmentation queue over Redis Streams (needs an <c>IConnectionMultiplexer</c>).</summary>
    public static IServiceCollection AddRedisStreamsSegmentationQueue(this IServiceCollection services)
    {
        services.AddOptions<SegmentationQueueOptions>().BindConfiguration(SegmentationQueueOptions.SectionName);
        services.AddSingleton<RedisStreamsSegmentationQueue>();
        services.AddSingleton<ISegmentationQueue>(sp => sp.GetRequiredService<RedisStreamsSegmentationQueue>());
        services.AddSingleton<ISegmentationQueueConsumer>(sp => sp.GetRequiredService<RedisStreamsSegmentationQueue>());
        services.AddScoped<SegmentationTaskDispatcher>();
        services.AddSingleton<ITaskEventBus, RedisTaskEventBus>();
        return services;
    }
}
