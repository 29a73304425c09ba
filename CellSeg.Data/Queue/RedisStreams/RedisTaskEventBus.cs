using System.Text.Json;
using StackExchange.Redis;

namespace CellSeg.Data.Queue.RedisStreams;

/// <summary>
/// Task events and cancellations over Redis pub/sub: every subscriber (each Api replica, each worker) receives each
/// message once. Events are notifications; Postgres remains the record.
/// </summary>
public sealed class RedisTaskEventBus(IConnectionMultiplexer redis) : ITaskEventBus
{
    private static readonly RedisChannel s_events = RedisChannel.Literal("cellseg:events");
    private static readonly RedisChannel s_cancellations = RedisChannel.Literal("cellseg:cancellations");
    private static readonly JsonSerializerOptions s_json = new(JsonSerializerDefaults.Web);

    public async Task PublishAsync(TaskEvent taskEvent, CancellationToken cancellationToken) =>
        await redis.GetSubscriber().PublishAsync(s_events, JsonSerializer.Serialize(taskEvent, s_json));

    public async Task SubscribeAsync(Func<TaskEvent, Task> handler, CancellationToken cancellationToken)
    {
        var queue = await redis.GetSubscriber().SubscribeAsync(s_events);
        queue.OnMessage(async message =>
        {
            if (JsonSerializer.Deserialize<TaskEvent>(message.Message.ToString(), s_json) is { } taskEvent)
            {
                await handler(taskEvent);
            }
        });
    }

    public async Task PublishCancellationAsync(IReadOnlyCollection<Guid> taskIds, CancellationToken cancellationToken) =>
        await redis.GetSubscriber().PublishAsync(s_cancellations, JsonSerializer.Serialize(taskIds, s_json));

    public async Task SubscribeCancellationsAsync(Action<IReadOnlyCollection<Guid>> handler, CancellationToken cancellationToken)
    {
        var queue = await redis.GetSubscriber().SubscribeAsync(s_cancellations);
        queue.OnMessage(message =>
        {
            if (JsonSerializer.Deserialize<Guid[]>(message.Message.ToString(), s_json) is { Length: > 0 } ids)
            {
                handler(ids);
            }
        });
    }
}
