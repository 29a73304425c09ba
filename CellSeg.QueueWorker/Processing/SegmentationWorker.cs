using System.Collections.Concurrent;
using CellSeg.Data;
using CellSeg.Data.Queue;
using CellSeg.QueueWorker.Scheduling;
using Microsoft.Extensions.Options;

namespace CellSeg.QueueWorker.Processing;

/// <summary>
/// The worker's loop: reads deliveries from the queue (new ones, and ones a dead worker left behind) into the fair
/// scheduler, and keeps <see cref="SegmentationWorkerOptions.Slots"/> batches in flight, each one model and one set
/// of parameters. A cancellation message drops waiting tasks and aborts running ones.
/// </summary>
public sealed partial class SegmentationWorker : BackgroundService
{
    private static readonly TimeSpan s_unreachableBackoff = TimeSpan.FromSeconds(1);

    private readonly IServiceProvider _services;
    private readonly ISegmentationQueueConsumer _consumer;
    private readonly ITaskEventBus _events;
    private readonly SegmentationTaskRunner _runner;
    private readonly InferenceModelCatalog _catalog;
    private readonly IServiceScopeFactory _scopeFactory;
    private readonly QueueWorkerTelemetry _telemetry;
    private readonly SegmentationWorkerOptions _options;
    private readonly TimeProvider _time;
    private readonly ILogger<SegmentationWorker> _logger;
    private readonly FairBatchScheduler<SegmentationDelivery> _scheduler;
    private readonly Lock _gate = new();
    private readonly SemaphoreSlim _work = new(0);
    private readonly ConcurrentDictionary<Guid, CancellationTokenSource> _running = new();
    private QueueBacklog _backlog = new(0, 0);

    public SegmentationWorker(
        IServiceProvider services,
        ISegmentationQueueConsumer consumer,
        ITaskEventBus events,
        SegmentationTaskRunner runner,
        InferenceModelCatalog catalog,
        IServiceScopeFactory scopeFactory,
        QueueWorkerTelemetry telemetry,
        IOptions<SegmentationWorkerOptions> options,
        TimeProvider time,
        ILogger<SegmentationWorker> logger)
    {
        _services = services;
        _consumer = consumer;
        _events = events;
        _runner = runner;
        _catalog = catalog;
        _scopeFactory = scopeFactory;
        _telemetry = telemetry;
        _options = options.Value;
        _time = time;
        _logger = logger;
        _scheduler = new FairBatchScheduler<SegmentationDelivery>(catalog.MaxBatch, _options.MaxInFlightPerUser);
        telemetry.ObserveBacklog(() => (_backlog.Lag, _backlog.Pending));
        telemetry.ObserveBuffered(() =>
        {
            lock (_gate)
            {
                return _scheduler.Count;
            }
        });
    }

    protected override async Task ExecuteAsync(CancellationToken stoppingToken)
    {
        await DatabaseSchema.WaitUntilCurrentAsync(_services, _logger, stoppingToken);
        await _events.SubscribeCancellationsAsync(Cancel, stoppingToken);
        var slots = Enumerable.Range(0, _options.Slots).Select(_ => RunSlotAsync(stoppingToken)).ToArray();
        try
        {
            await IntakeAsync(stoppingToken);
        }
        catch (OperationCanceledException) when (stoppingToken.IsCancellationRequested)
        {
            // Shutting down: deliveries not acknowledged stay pending for another worker.
        }

        await Task.WhenAll(slots);
    }

    private async Task IntakeAsync(CancellationToken stoppingToken)
    {
        var idleWait = TimeSpan.FromMilliseconds(10);
        var nextClaim = _time.GetTimestamp();
        var nextCatalog = _time.GetTimestamp();
        var nextBacklog = _time.GetTimestamp();
        while (!stoppingToken.IsCancellationRequested)
        {
            try
            {
                if (_time.GetTimestamp() >= nextCatalog)
                {
                    nextCatalog = await RefreshCatalogAsync(stoppingToken);
                }

                if (_time.GetTimestamp() >= nextBacklog)
                {
                    _backlog = await _consumer.GetBacklogAsync(stoppingToken);
                    nextBacklog = _time.GetTimestamp() + (5 * _time.TimestampFrequency);
                }

                int space;
                lock (_gate)
                {
                    space = _options.MaxBuffered - _scheduler.Count;
                }

                if (space <= 0)
                {
                    await Task.Delay(TimeSpan.FromMilliseconds(20), _time, stoppingToken);
                    continue;
                }

                var deliveries = new List<SegmentationDelivery>();
                if (_time.GetTimestamp() >= nextClaim)
                {
                    var claimed = await _consumer.ClaimAbandonedAsync(TimeSpan.FromMilliseconds(_options.ClaimIdleMs), space, stoppingToken);
                    if (claimed.Count > 0)
                    {
                        _telemetry.Reclaims.Add(claimed.Count);
                        LogReclaimed(_logger, claimed.Count);
                    }

                    deliveries.AddRange(claimed);
                    nextClaim = _time.GetTimestamp() + (_options.ClaimIntervalMs * _time.TimestampFrequency / 1000);
                }

                deliveries.AddRange(await _consumer.ReadAsync(Math.Min(_options.ReadCount, space - deliveries.Count), stoppingToken));
                if (deliveries.Count == 0)
                {
                    await _consumer.WaitForWorkAsync(idleWait, stoppingToken);
                    idleWait = TimeSpan.FromMilliseconds(Math.Min(idleWait.TotalMilliseconds * 2, _options.IdleWaitMaxMs));
                    continue;
                }

                idleWait = TimeSpan.FromMilliseconds(10);
                lock (_gate)
                {
                    foreach (var delivery in deliveries)
                    {
                        var item = delivery.Item;
                        _scheduler.Add(item.OwnerId, item.Priority, new BatchKey(item.Model, item.Threshold, item.DetectHoles), delivery);
                    }
                }

                _work.Release(Math.Min(deliveries.Count, _options.Slots));
            }
            catch (Exception ex) when (ex is StackExchange.Redis.RedisException or TimeoutException or HttpRequestException)
            {
                LogQueueUnavailable(_logger, ex.Message);
                await Task.Delay(TimeSpan.FromSeconds(1), _time, stoppingToken);
            }
        }
    }

    private async Task<long> RefreshCatalogAsync(CancellationToken stoppingToken)
    {
        await using var scope = _scopeFactory.CreateAsyncScope();
        try
        {
            _catalog.Update(await scope.ServiceProvider.GetRequiredService<InferenceClient>().ListModelsAsync(stoppingToken));
            return _time.GetTimestamp() + (30 * _time.TimestampFrequency);
        }
        catch (Exception ex) when (ex is HttpRequestException or TaskCanceledException or Polly.ExecutionRejectedException && !stoppingToken.IsCancellationRequested)
        {
            LogCatalogUnavailable(_logger, ex.Message);
            return _time.GetTimestamp() + (2 * _time.TimestampFrequency);
        }
    }

    private async Task RunSlotAsync(CancellationToken stoppingToken)
    {
        while (!stoppingToken.IsCancellationRequested)
        {
            ScheduledBatch<SegmentationDelivery>? batch;
            lock (_gate)
            {
                batch = _scheduler.TryTake();
            }

            if (batch is null)
            {
                try
                {
                    if (await _work.WaitAsync(TimeSpan.FromMilliseconds(250), stoppingToken) && _options.GatherMs > 0)
                    {
                        // Idle until now: let work sent at the same moment by other users reach the scheduler too.
                        await Task.Delay(TimeSpan.FromMilliseconds(_options.GatherMs), _time, stoppingToken);
                    }
                }
                catch (OperationCanceledException)
                {
                    return;
                }

                continue;
            }

            _telemetry.BusySlots.Add(1);
            var unreachable = false;
            try
            {
                unreachable = await RunBatchAsync(batch.Items, stoppingToken);
            }
            finally
            {
                _telemetry.BusySlots.Add(-1);
                lock (_gate)
                {
                    _scheduler.Complete(batch);
                }

                // The user may have been at its cap: another slot can take its next batch now.
                _work.Release();
            }

            if (unreachable)
            {
                // Inference is down or its circuit open: the tasks went back to the queue, and taking them again at
                // once would only go round in circles until it is back.
                try
                {
                    await Task.Delay(s_unreachableBackoff, _time, stoppingToken);
                }
                catch (OperationCanceledException)
                {
                    return;
                }
            }
        }
    }

    private async Task<bool> RunBatchAsync(IReadOnlyList<SegmentationDelivery> batch, CancellationToken stoppingToken)
    {
        var cancellations = batch.ToDictionary(d => d.Item.TaskId, _ => CancellationTokenSource.CreateLinkedTokenSource(stoppingToken));
        foreach (var (taskId, cancellation) in cancellations)
        {
            _running[taskId] = cancellation;
        }

        try
        {
            return await _runner.RunBatchAsync(batch, taskId => cancellations[taskId].Token, stoppingToken);
        }
        finally
        {
            foreach (var (taskId, cancellation) in cancellations)
            {
                _running.TryRemove(taskId, out _);
                cancellation.Dispose();
            }
        }
    }

    /// <summary>Drops cancelled tasks that are waiting here and aborts those running (their Inference call ends).</summary>
    private void Cancel(IReadOnlyCollection<Guid> taskIds)
    {
        var ids = taskIds.ToHashSet();
        IReadOnlyList<SegmentationDelivery> dropped;
        lock (_gate)
        {
            dropped = _scheduler.Remove(delivery => ids.Contains(delivery.Item.TaskId));
        }

        foreach (var id in ids)
        {
            if (_running.TryGetValue(id, out var running))
            {
                running.Cancel();
            }
        }

        if (dropped.Count > 0)
        {
            _telemetry.Tasks.Add(dropped.Count, new KeyValuePair<string, object?>("outcome", "cancelled"));
            // The tasks are already cancelled in Postgres; their entries only need to leave the stream.
            _ = _consumer.AcknowledgeAsync([.. dropped.Select(d => d.DeliveryId)], CancellationToken.None)
                .ContinueWith(t => LogAcknowledgeFailed(_logger, t.Exception!.GetBaseException().Message), TaskContinuationOptions.OnlyOnFaulted);
        }
    }

    public override void Dispose()
    {
        _work.Dispose();
        base.Dispose();
    }

    [LoggerMessage(Level = LogLevel.Warning, Message = "Queue unavailable: {Reason}")]
    private static partial void LogQueueUnavailable(ILogger logger, string reason);

    [LoggerMessage(Level = LogLevel.Warning, Message = "Inference models unavailable: {Reason}")]
    private static partial void LogCatalogUnavailable(ILogger logger, string reason);

    [LoggerMessage(Level = LogLevel.Warning, Message = "Took over {Count} delivery(ies) abandoned by another worker")]
    private static partial void LogReclaimed(ILogger logger, int count);

    [LoggerMessage(Level = LogLevel.Warning, Message = "Could not acknowledge cancelled deliveries: {Reason}")]
    private static partial void LogAcknowledgeFailed(ILogger logger, string reason);
}
