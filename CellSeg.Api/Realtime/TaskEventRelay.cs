using System.Collections.Concurrent;
using CellSeg.Api.Apis;
using CellSeg.Data;
using CellSeg.Data.Queue;
using Microsoft.AspNetCore.SignalR;

namespace CellSeg.Api.Realtime;

/// <summary>
/// Relays the task events of Api and workers (Redis pub/sub) to the hub connections of this replica: each image
/// change to its owner's group and its project's group, completions likewise, and every second the fresh queue
/// statistics of the users whose tasks changed.
/// </summary>
/// <remarks>
/// No SignalR backplane is needed with several Api replicas: every replica subscribes to the events itself and
/// sends only to the connections it holds, so each connection hears each event from its own replica.
/// </remarks>
public sealed partial class TaskEventRelay(
    ITaskEventBus events,
    IHubContext<SegmentationHub, ISegmentationClient> hub,
    SegmentationHubConnections connections,
    IServiceScopeFactory scopes,
    TimeProvider time,
    ILogger<TaskEventRelay> logger) : BackgroundService
{
    public static readonly TimeSpan StatisticsInterval = TimeSpan.FromSeconds(1);

    private readonly ConcurrentDictionary<Guid, byte> _staleStatistics = new();

    protected override async Task ExecuteAsync(CancellationToken stoppingToken)
    {
        await SubscribeAsync(stoppingToken);
        using var timer = new PeriodicTimer(StatisticsInterval, time);
        while (await timer.WaitForNextTickAsync(stoppingToken))
        {
            await SendStatisticsAsync(stoppingToken);
        }
    }

    /// <summary>Subscribes once Redis answers; the connection re-subscribes by itself after later outages.</summary>
    private async Task SubscribeAsync(CancellationToken stoppingToken)
    {
        while (true)
        {
            try
            {
                await events.SubscribeAsync(RelayAsync, stoppingToken);
                return;
            }
            catch (StackExchange.Redis.RedisException ex)
            {
                LogSubscribeFailed(logger, ex);
                await Task.Delay(TimeSpan.FromSeconds(2), time, stoppingToken);
            }
        }
    }

    private async Task RelayAsync(TaskEvent taskEvent)
    {
        try
        {
            _staleStatistics[taskEvent.OwnerId] = 0;
            var change = new ImageStatusChange(
                taskEvent.ImageId, taskEvent.ProjectId, taskEvent.TaskId, taskEvent.Status, taskEvent.Error, taskEvent.ObjectCount, taskEvent.At);
            await SendAsync(taskEvent, client => client.ImageStatusChanged(change));
            if (taskEvent.Status is "segmented" or "failed")
            {
                var completion = new ImageCompletion(
                    taskEvent.ImageId, taskEvent.ProjectId, taskEvent.TaskId, taskEvent.Status == "segmented", taskEvent.ObjectCount, taskEvent.Error, taskEvent.At);
                await SendAsync(taskEvent, client => client.ImageCompleted(completion));
            }
        }
        catch (Exception ex)
        {
            // One undeliverable message must not stop the relay; clients can always re-read the state.
            LogRelayFailed(logger, ex, taskEvent.TaskId, taskEvent.Status);
        }
    }

    /// <summary>
    /// To the project's group, and to the owner's group except the connections already in the project's group,
    /// so that a connection in both hears the event once.
    /// </summary>
    private async Task SendAsync(TaskEvent taskEvent, Func<ISegmentationClient, Task> send)
    {
        var watchers = connections.WatchersOf(taskEvent.ProjectId);
        await send(hub.Clients.GroupExcept(SegmentationHub.UserGroup(taskEvent.OwnerId), watchers));
        if (watchers.Count > 0)
        {
            await send(hub.Clients.Group(SegmentationHub.ProjectGroup(taskEvent.ProjectId)));
        }
    }

    private async Task SendStatisticsAsync(CancellationToken cancellationToken)
    {
        foreach (var userId in _staleStatistics.Keys)
        {
            _staleStatistics.TryRemove(userId, out _);
            if (!connections.HasUser(userId))
            {
                continue;
            }

            try
            {
                await using var scope = scopes.CreateAsyncScope();
                var db = scope.ServiceProvider.GetRequiredService<CellSegDbContext>();
                var statistics = await SegmentationApi.ReadStatisticsAsync(db, userId, cancellationToken);
                await hub.Clients.Group(SegmentationHub.UserGroup(userId)).QueueStatisticsChanged(statistics);
            }
            catch (Exception ex) when (ex is not OperationCanceledException)
            {
                LogStatisticsFailed(logger, ex, userId);
            }
        }
    }

    [LoggerMessage(Level = LogLevel.Warning, Message = "Cannot subscribe to task events yet; retrying")]
    private static partial void LogSubscribeFailed(ILogger logger, Exception exception);

    [LoggerMessage(Level = LogLevel.Warning, Message = "Task event {TaskId} ({Status}) was not relayed")]
    private static partial void LogRelayFailed(ILogger logger, Exception exception, Guid taskId, string status);

    [LoggerMessage(Level = LogLevel.Warning, Message = "Queue statistics of user {UserId} were not sent")]
    private static partial void LogStatisticsFailed(ILogger logger, Exception exception, Guid userId);
}
