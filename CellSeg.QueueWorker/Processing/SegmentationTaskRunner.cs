using System.Diagnostics;
using CellSeg.Data;
using CellSeg.Data.Model;
using CellSeg.Data.Queue;
using Microsoft.EntityFrameworkCore;
using Microsoft.Extensions.Options;

namespace CellSeg.QueueWorker.Processing;

/// <summary>
/// Runs one batch of delivered tasks: claims them in Postgres with a few statements for the whole batch, sends
/// each image to Inference (which batches them again on its side), commits the results of the batch in one
/// transaction, and only then acknowledges the deliveries. Every state change is conditional on the state the task
/// should be in, so a cancelled task is never resurrected and a task delivered twice stores one result.
/// </summary>
public sealed partial class SegmentationTaskRunner(
    IServiceScopeFactory scopeFactory,
    ISegmentationQueueConsumer consumer,
    ITaskEventBus events,
    QueueWorkerTelemetry telemetry,
    IOptions<SegmentationWorkerOptions> options,
    TimeProvider time,
    ILogger<SegmentationTaskRunner> logger)
{
    private enum Outcome
    {
        Segmented,
        Rejected,
        Transient,

        // Inference could not be reached at all (no connection, or its circuit is open): the image was never tried.
        Unreachable,
        Cancelled,
    }

    private sealed record Attempt(SegmentationDelivery Delivery, Outcome Outcome, InferenceResult? Result, string? Error);

    /// <param name="tokenFor">The token of one task: it ends when the task is cancelled or the worker stops.</param>
    /// <param name="stoppingToken">Ends only when the worker stops.</param>
    /// <returns>Whether Inference could not be reached for some of the batch, so that the caller backs off.</returns>
    public async Task<bool> RunBatchAsync(
        IReadOnlyList<SegmentationDelivery> batch, Func<Guid, CancellationToken> tokenFor, CancellationToken stoppingToken)
    {
        telemetry.ActiveTasks.Add(batch.Count);
        var started = time.GetTimestamp();
        try
        {
            await using var scope = scopeFactory.CreateAsyncScope();
            var db = scope.ServiceProvider.GetRequiredService<CellSegDbContext>();
            var acknowledge = new List<string>(batch.Count);

            var (runnable, finished) = await ClaimAsync(db, batch, acknowledge, stoppingToken);
            Count("skipped", finished);
            if (runnable.Count == 0)
            {
                await consumer.AcknowledgeAsync(acknowledge, stoppingToken);
                return false;
            }

            var imageIds = runnable.Select(d => d.Item.ImageId).ToList();
            var contents = await db.ImageContents.AsNoTracking()
                .Where(c => imageIds.Contains(c.ImageId))
                .ToDictionaryAsync(c => c.ImageId, c => c.Data, stoppingToken);
            var inference = scope.ServiceProvider.GetRequiredService<InferenceClient>();
            var attempts = await Task.WhenAll(runnable.Select(d => SegmentAsync(inference, d, contents[d.Item.ImageId], tokenFor(d.Item.TaskId))));

            await FinishAsync(scope.ServiceProvider, db, attempts, acknowledge, stoppingToken);
            await consumer.AcknowledgeAsync(acknowledge, stoppingToken);
            var segmentedCount = attempts.Count(a => a.Outcome == Outcome.Segmented);
            var elapsedMs = time.GetElapsedTime(started).TotalMilliseconds;
            LogBatchDone(logger, batch.Count, segmentedCount, elapsedMs);
            return attempts.Any(a => a.Outcome == Outcome.Unreachable);
        }
        catch (Exception ex) when (ex is not OperationCanceledException || !stoppingToken.IsCancellationRequested)
        {
            // Not acknowledged: the deliveries stay pending and are taken over once idle.
            LogBatchError(logger, ex, batch.Count);
            return false;
        }
        finally
        {
            telemetry.ActiveTasks.Add(-batch.Count);
            telemetry.TaskDuration.Record(time.GetElapsedTime(started).TotalMilliseconds);
        }
    }

    /// <summary>Marks the batch's runnable tasks processing; gives up on those that used every attempt.</summary>
    private async Task<(List<SegmentationDelivery> Runnable, int Finished)> ClaimAsync(
        CellSegDbContext db, IReadOnlyList<SegmentationDelivery> batch, List<string> acknowledge, CancellationToken cancellationToken)
    {
        var ids = batch.Select(d => d.Item.TaskId).ToList();
        var tasks = await db.SegmentationTasks.AsNoTracking()
            .Where(t => ids.Contains(t.Id))
            .Select(t => new { t.Id, t.Status, t.Attempts })
            .ToDictionaryAsync(t => t.Id, cancellationToken);
        var maxAttempts = options.Value.MaxAttempts;
        var runnable = new List<SegmentationDelivery>(batch.Count);
        var finished = 0;
        foreach (var delivery in batch)
        {
            if (!tasks.TryGetValue(delivery.Item.TaskId, out var task) || task.Status is not (SegmentationTaskStatus.Queued or SegmentationTaskStatus.Processing))
            {
                // Done, failed or cancelled already (a redelivery, or a cancellation): only the entry is left.
                acknowledge.Add(delivery.DeliveryId);
                finished++;
            }
            else if (task.Attempts >= maxAttempts)
            {
                // Delivered again after every attempt was used (its workers kept dying): give up with a reason.
                var reason = $"Gave up after {task.Attempts} attempts that did not finish.";
                if (await FailAsync(db, delivery.Item, reason, cancellationToken))
                {
                    await consumer.DeadLetterAsync(delivery, reason, cancellationToken);
                    telemetry.DeadLetters.Add(1);
                }
                else
                {
                    acknowledge.Add(delivery.DeliveryId);
                }

                Count("dead_lettered", 1);
            }
            else
            {
                runnable.Add(delivery);
            }
        }

        if (runnable.Count > 0)
        {
            var now = time.GetUtcNow();
            var runIds = runnable.Select(d => d.Item.TaskId).ToList();
            var imageIds = runnable.Select(d => d.Item.ImageId).ToList();
            await db.SegmentationTasks
                .LockedInIdOrder(runIds, SegmentationTaskStatus.Queued, SegmentationTaskStatus.Processing)
                .ExecuteUpdateAsync(set => set
                    .SetProperty(t => t.Status, SegmentationTaskStatus.Processing)
                    .SetProperty(t => t.StartedAt, now)
                    .SetProperty(t => t.Attempts, t => t.Attempts + 1),
                    cancellationToken);
            // Only images whose task is processing now: a duplicate delivery of a task another delivery has just
            // completed must not turn its segmented image back to processing.
            await db.Images
                .Where(i => imageIds.Contains(i.Id)
                    && db.SegmentationTasks.Any(t => t.ImageId == i.Id && runIds.Contains(t.Id) && t.Status == SegmentationTaskStatus.Processing))
                .ExecuteUpdateAsync(set => set
                    .SetProperty(i => i.Status, ImageStatus.Processing)
                    .SetProperty(i => i.Error, (string?)null)
                    .SetProperty(i => i.UpdatedAt, now),
                    cancellationToken);
            await PublishAsync(runnable.Select(d => Event(d.Item, "processing")), cancellationToken);
        }

        return (runnable, finished);
    }

    private static async Task<Attempt> SegmentAsync(InferenceClient inference, SegmentationDelivery delivery, byte[] image, CancellationToken cancellationToken)
    {
        var item = delivery.Item;
        using var span = QueueWorkerTelemetry.Source.StartActivity(
            "segmentation.process", ActivityKind.Consumer, TraceContext.Restore(item.TraceParent, item.TraceState));
        span?.SetTag("cellseg.task_id", item.TaskId);
        span?.SetTag("cellseg.image_id", item.ImageId);
        span?.SetTag("cellseg.model", item.Model);
        try
        {
            return new Attempt(delivery, Outcome.Segmented, await inference.SegmentAsync(image, item, cancellationToken), null);
        }
        catch (InferenceRejectedException rejected)
        {
            span?.SetStatus(ActivityStatusCode.Error, rejected.Message);
            return new Attempt(delivery, Outcome.Rejected, null, $"Inference rejected the image ({(int)rejected.Status}): {rejected.Message}");
        }
        catch (OperationCanceledException) when (cancellationToken.IsCancellationRequested)
        {
            return new Attempt(delivery, Outcome.Cancelled, null, null);
        }
        catch (Exception ex) when (ex is Polly.CircuitBreaker.BrokenCircuitException or HttpRequestException { HttpRequestError: HttpRequestError.ConnectionError })
        {
            // No Inference to send the image to: queued again without using one of the image's attempts, or an
            // outage longer than a few retries would fail every image waiting.
            span?.SetStatus(ActivityStatusCode.Error, ex.Message);
            return new Attempt(delivery, Outcome.Unreachable, null, ex.Message);
        }
        catch (Exception ex) when (ex is HttpRequestException or TaskCanceledException or Polly.ExecutionRejectedException)
        {
            // The request failed or timed out at Inference: transient, retried through the queue.
            span?.SetStatus(ActivityStatusCode.Error, ex.Message);
            return new Attempt(delivery, Outcome.Transient, null, ex.Message);
        }
    }

    private async Task FinishAsync(IServiceProvider services, CellSegDbContext db, Attempt[] attempts, List<string> acknowledge, CancellationToken cancellationToken)
    {
        var segmented = attempts.Where(a => a.Outcome == Outcome.Segmented).ToList();
        var stored = await StoreResultsAsync(db, segmented, cancellationToken);
        Count("segmented", stored.Count);
        Count("duplicate", segmented.Count - stored.Count);
        await PublishAsync(
            segmented.Where(a => stored.Contains(a.Delivery.Item.TaskId)).Select(a => Event(a.Delivery.Item, "segmented", objectCount: a.Result!.ObjectCount)),
            cancellationToken);
        acknowledge.AddRange(segmented.Select(a => a.Delivery.DeliveryId));

        foreach (var attempt in attempts.Where(a => a.Outcome == Outcome.Rejected))
        {
            await FailAsync(db, attempt.Delivery.Item, attempt.Error!, cancellationToken);
            acknowledge.Add(attempt.Delivery.DeliveryId);
            Count("rejected", 1);
        }

        foreach (var attempt in attempts.Where(a => a.Outcome is Outcome.Transient or Outcome.Unreachable))
        {
            if (await RetryOrFailAsync(services, db, attempt.Delivery, attempt.Error!, usedAttempt: attempt.Outcome == Outcome.Transient, cancellationToken))
            {
                acknowledge.Add(attempt.Delivery.DeliveryId);
            }
        }

        Count("unreachable", attempts.Count(a => a.Outcome == Outcome.Unreachable));

        // Cancelled by their users while running: Postgres already says cancelled; the entries leave the stream.
        var cancelled = attempts.Where(a => a.Outcome == Outcome.Cancelled).ToList();
        acknowledge.AddRange(cancelled.Select(a => a.Delivery.DeliveryId));
        Count("cancelled", cancelled.Count);
    }

    /// <summary>
    /// Commits the results and the tasks' completion together, for the tasks still processing (not cancelled, not
    /// completed by another delivery); returns their ids.
    /// </summary>
    private async Task<HashSet<Guid>> StoreResultsAsync(CellSegDbContext db, List<Attempt> segmented, CancellationToken cancellationToken)
    {
        if (segmented.Count == 0)
        {
            return [];
        }

        var ids = segmented.Select(a => a.Delivery.Item.TaskId).ToArray();
        var strategy = db.Database.CreateExecutionStrategy();
        return await strategy.ExecuteAsync(async ct =>
        {
            db.ChangeTracker.Clear();
            await using var transaction = await db.Database.BeginTransactionAsync(ct);
            var processing = (await db.SegmentationTasks
                    .LockedInIdOrder(ids, SegmentationTaskStatus.Processing)
                    .AsNoTracking()
                    .Select(t => t.Id)
                    .ToListAsync(ct))
                .ToHashSet();
            if (processing.Count == 0)
            {
                return processing;
            }

            var now = time.GetUtcNow();
            var storing = segmented.Where(a => processing.Contains(a.Delivery.Item.TaskId)).ToList();
            await db.SegmentationTasks
                .Where(t => processing.Contains(t.Id))
                .ExecuteUpdateAsync(set => set
                    .SetProperty(t => t.Status, SegmentationTaskStatus.Completed)
                    .SetProperty(t => t.CompletedAt, now)
                    .SetProperty(t => t.Error, (string?)null),
                    ct);
            db.SegmentationResults.AddRange(storing.Select(a => new SegmentationResult(now)
            {
                TaskId = a.Delivery.Item.TaskId,
                ImageId = a.Delivery.Item.ImageId,
                Model = a.Result!.Model,
                Width = a.Result.Width,
                Height = a.Result.Height,
                ObjectCount = a.Result.ObjectCount,
                Objects = a.Result.ObjectsJson,
                Device = a.Result.Device,
                BatchSize = a.Result.BatchSize,
                InferenceMs = a.Result.Timings.InferenceMs,
                CreatedAt = now,
            }));
            await db.SaveChangesAsync(ct);
            await SetImageStatusAsync(db, [.. storing.Select(a => a.Delivery.Item.ImageId)], ImageStatus.Segmented, ct);
            await transaction.CommitAsync(ct);
            return processing;
        }, cancellationToken);
    }

    /// <summary>
    /// Queues the task again, or fails it once its attempts are used; false when it was neither (cancelled). Without
    /// <paramref name="usedAttempt"/> (the image never reached Inference) the claim's attempt is given back.
    /// </summary>
    private async Task<bool> RetryOrFailAsync(
        IServiceProvider services, CellSegDbContext db, SegmentationDelivery delivery, string error, bool usedAttempt, CancellationToken cancellationToken)
    {
        var item = delivery.Item;
        var task = await db.SegmentationTasks.AsNoTracking().SingleAsync(t => t.Id == item.TaskId, cancellationToken);
        if (usedAttempt && task.Attempts >= options.Value.MaxAttempts)
        {
            var reason = $"Inference failed {task.Attempts} times: {error}";
            if (await FailAsync(db, item, reason, cancellationToken))
            {
                await consumer.DeadLetterAsync(delivery, reason, cancellationToken);
                telemetry.DeadLetters.Add(1);
                Count("dead_lettered", 1);
                return false;
            }

            return true;
        }

        var requeued = await db.SegmentationTasks
            .Where(t => t.Id == item.TaskId && t.Status == SegmentationTaskStatus.Processing)
            .ExecuteUpdateAsync(set => set
                .SetProperty(t => t.Status, SegmentationTaskStatus.Queued)
                .SetProperty(t => t.Error, error)
                .SetProperty(t => t.Attempts, t => usedAttempt ? t.Attempts : t.Attempts - 1),
                cancellationToken);
        if (requeued > 0)
        {
            await SetImageStatusAsync(db, [item.ImageId], ImageStatus.Queued, cancellationToken);
            await services.GetRequiredService<SegmentationTaskDispatcher>().DispatchAsync(task, cancellationToken);
            Count("retried", 1);
        }

        return true;
    }

    /// <summary>Marks the task and its image failed with the reason, unless the task already left queued/processing.</summary>
    private async Task<bool> FailAsync(CellSegDbContext db, SegmentationWorkItem item, string reason, CancellationToken cancellationToken)
    {
        var now = time.GetUtcNow();
        var failed = await db.SegmentationTasks
            .Where(t => t.Id == item.TaskId && (t.Status == SegmentationTaskStatus.Queued || t.Status == SegmentationTaskStatus.Processing))
            .ExecuteUpdateAsync(set => set
                .SetProperty(t => t.Status, SegmentationTaskStatus.Failed)
                .SetProperty(t => t.Error, reason)
                .SetProperty(t => t.CompletedAt, now),
                cancellationToken);
        if (failed == 0)
        {
            return false;
        }

        await db.Images.Where(i => i.Id == item.ImageId).ExecuteUpdateAsync(set => set
            .SetProperty(i => i.Status, ImageStatus.Failed)
            .SetProperty(i => i.Error, reason)
            .SetProperty(i => i.UpdatedAt, now),
            cancellationToken);
        await PublishAsync([Event(item, "failed", error: reason)], cancellationToken);
        LogTaskFailed(logger, item.TaskId, reason);
        return true;
    }

    private async Task SetImageStatusAsync(CellSegDbContext db, List<Guid> imageIds, ImageStatus status, CancellationToken cancellationToken)
    {
        var now = time.GetUtcNow();
        await db.Images.Where(i => imageIds.Contains(i.Id)).ExecuteUpdateAsync(set => set
            .SetProperty(i => i.Status, status)
            .SetProperty(i => i.Error, (string?)null)
            .SetProperty(i => i.UpdatedAt, now),
            cancellationToken);
    }

    private TaskEvent Event(SegmentationWorkItem item, string status, string? error = null, int? objectCount = null) =>
        new(status, item.TaskId, item.ImageId, item.ProjectId, item.OwnerId, time.GetUtcNow(), error, objectCount);

    private async Task PublishAsync(IEnumerable<TaskEvent> taskEvents, CancellationToken cancellationToken)
    {
        try
        {
            await Task.WhenAll(taskEvents.Select(e => events.PublishAsync(e, cancellationToken)));
        }
        catch (StackExchange.Redis.RedisException ex)
        {
            // Events notify; the state is in Postgres. A lost event costs a client one refresh, not a result.
            LogEventsLost(logger, ex.Message);
        }
    }

    private void Count(string outcome, int count)
    {
        if (count > 0)
        {
            telemetry.Tasks.Add(count, new KeyValuePair<string, object?>("outcome", outcome));
        }
    }

    [LoggerMessage(Level = LogLevel.Warning, Message = "Task {TaskId} failed: {Reason}")]
    private static partial void LogTaskFailed(ILogger logger, Guid taskId, string reason);

    [LoggerMessage(Level = LogLevel.Information, Message = "Batch of {Count} task(s) done: {Segmented} segmented in {ElapsedMs:F0} ms")]
    private static partial void LogBatchDone(ILogger logger, int count, int segmented, double elapsedMs);

    [LoggerMessage(Level = LogLevel.Error, Message = "A batch of {Count} task(s) could not be processed; its deliveries stay pending")]
    private static partial void LogBatchError(ILogger logger, Exception exception, int count);

    [LoggerMessage(Level = LogLevel.Warning, Message = "Task events not published: {Reason}")]
    private static partial void LogEventsLost(ILogger logger, string reason);
}
