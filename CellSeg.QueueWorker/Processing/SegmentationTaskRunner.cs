using System.Diagnostics;
using CellSeg.Data;
using CellSeg.Data.Model;
using CellSeg.Data.Queue;
using Microsoft.EntityFrameworkCore;
using Microsoft.Extensions.Options;
using Npgsql;

namespace CellSeg.QueueWorker.Processing;

/// <summary>
/// Runs one delivered task to a final or retryable state and acknowledges the delivery only after that state is
/// committed. Every state change is conditional on the state the task should be in, so a cancelled task is never
/// resurrected and a task delivered twice stores one result.
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
    /// <param name="cancellationToken">Ends when the task is cancelled or the worker stops.</param>
    /// <param name="stoppingToken">Ends only when the worker stops.</param>
    public async Task RunAsync(SegmentationDelivery delivery, CancellationToken cancellationToken, CancellationToken stoppingToken)
    {
        var item = delivery.Item;
        using var activity = QueueWorkerTelemetry.Source.StartActivity(
            "segmentation.process", ActivityKind.Consumer, TraceContext.Restore(item.TraceParent, item.TraceState));
        activity?.SetTag("cellseg.task_id", item.TaskId);
        activity?.SetTag("cellseg.image_id", item.ImageId);
        activity?.SetTag("cellseg.model", item.Model);

        telemetry.ActiveTasks.Add(1);
        var started = time.GetTimestamp();
        var outcome = "failed";
        try
        {
            outcome = await RunTaskAsync(delivery, cancellationToken);
            await consumer.AcknowledgeAsync([delivery.DeliveryId], stoppingToken);
        }
        catch (OperationCanceledException) when (cancellationToken.IsCancellationRequested && !stoppingToken.IsCancellationRequested)
        {
            // Cancelled by its user while running: Postgres already says cancelled; the entry leaves the stream.
            outcome = "cancelled";
            await consumer.AcknowledgeAsync([delivery.DeliveryId], stoppingToken);
        }
        catch (Exception ex) when (ex is not OperationCanceledException)
        {
            // Not acknowledged: the delivery stays pending and is taken over once idle.
            activity?.SetStatus(ActivityStatusCode.Error, ex.Message);
            LogTaskError(logger, ex, item.TaskId);
        }
        finally
        {
            telemetry.ActiveTasks.Add(-1);
            telemetry.Tasks.Add(1, new KeyValuePair<string, object?>("outcome", outcome));
            telemetry.TaskDuration.Record(time.GetElapsedTime(started).TotalMilliseconds);
        }
    }

    private async Task<string> RunTaskAsync(SegmentationDelivery delivery, CancellationToken cancellationToken)
    {
        var item = delivery.Item;
        await using var scope = scopeFactory.CreateAsyncScope();
        var db = scope.ServiceProvider.GetRequiredService<CellSegDbContext>();

        var task = await db.SegmentationTasks.AsNoTracking().SingleOrDefaultAsync(t => t.Id == item.TaskId, cancellationToken);
        if (task is null || task.Status is not (SegmentationTaskStatus.Queued or SegmentationTaskStatus.Processing))
        {
            return "skipped";
        }

        if (task.Attempts >= options.Value.MaxAttempts)
        {
            // Delivered again after as many attempts as allowed (its workers kept dying): give up with a reason.
            var reason = $"Gave up after {task.Attempts} attempts that did not finish.";
            if (await FailAsync(db, item, reason, cancellationToken))
            {
                await consumer.DeadLetterAsync(delivery, reason, cancellationToken);
                telemetry.DeadLetters.Add(1);
            }

            return "dead_lettered";
        }

        var now = time.GetUtcNow();
        var claimed = await db.SegmentationTasks
            .Where(t => t.Id == item.TaskId && (t.Status == SegmentationTaskStatus.Queued || t.Status == SegmentationTaskStatus.Processing))
            .ExecuteUpdateAsync(set => set
                .SetProperty(t => t.Status, SegmentationTaskStatus.Processing)
                .SetProperty(t => t.StartedAt, now)
                .SetProperty(t => t.Attempts, t => t.Attempts + 1),
                cancellationToken);
        if (claimed == 0)
        {
            return "skipped";
        }

        await SetImageStatusAsync(db, item.ImageId, ImageStatus.Processing, null, cancellationToken);
        await PublishAsync(item, "processing", cancellationToken: cancellationToken);

        var bytes = await db.ImageContents.Where(c => c.ImageId == item.ImageId).Select(c => c.Data).SingleAsync(cancellationToken);
        InferenceResult result;
        try
        {
            result = await scope.ServiceProvider.GetRequiredService<InferenceClient>().SegmentAsync(bytes, item, cancellationToken);
        }
        catch (InferenceRejectedException rejected)
        {
            var reason = $"Inference rejected the image ({(int)rejected.Status}): {rejected.Message}";
            await FailAsync(db, item, reason, cancellationToken);
            return "rejected";
        }
        catch (Exception ex) when (ex is HttpRequestException or TaskCanceledException or Polly.ExecutionRejectedException
            && !cancellationToken.IsCancellationRequested)
        {
            // Inference unreachable, timing out or behind an open circuit: transient, retried through the queue.
            return await RetryOrFailAsync(scope.ServiceProvider, db, delivery, task.Attempts + 1, ex.Message, cancellationToken);
        }

        if (!await StoreResultAsync(db, item, result, cancellationToken))
        {
            return "duplicate";
        }

        await PublishAsync(item, "segmented", objectCount: result.ObjectCount, cancellationToken: cancellationToken);
        LogTaskCompleted(logger, item.TaskId, result.ObjectCount, result.Timings.InferenceMs);
        return "segmented";
    }

    /// <summary>Commits the result and the task's completion together, unless the task left processing meanwhile.</summary>
    private async Task<bool> StoreResultAsync(CellSegDbContext db, SegmentationWorkItem item, InferenceResult result, CancellationToken cancellationToken)
    {
        var strategy = db.Database.CreateExecutionStrategy();
        try
        {
            return await strategy.ExecuteAsync(async ct =>
            {
                db.ChangeTracker.Clear();
                await using var transaction = await db.Database.BeginTransactionAsync(ct);
                var now = time.GetUtcNow();
                var completed = await db.SegmentationTasks
                    .Where(t => t.Id == item.TaskId && t.Status == SegmentationTaskStatus.Processing)
                    .ExecuteUpdateAsync(set => set
                        .SetProperty(t => t.Status, SegmentationTaskStatus.Completed)
                        .SetProperty(t => t.CompletedAt, now)
                        .SetProperty(t => t.Error, (string?)null),
                        ct);
                if (completed == 0)
                {
                    // Cancelled, or completed by another delivery of the same task: keep what is there.
                    return false;
                }

                db.SegmentationResults.Add(new SegmentationResult
                {
                    TaskId = item.TaskId,
                    ImageId = item.ImageId,
                    Model = result.Model,
                    Width = result.Width,
                    Height = result.Height,
                    ObjectCount = result.ObjectCount,
                    Objects = result.Objects.GetRawText(),
                    Device = result.Device,
                    BatchSize = result.BatchSize,
                    InferenceMs = result.Timings.InferenceMs,
                    CreatedAt = now,
                });
                await db.SaveChangesAsync(ct);
                await SetImageStatusAsync(db, item.ImageId, ImageStatus.Segmented, null, ct);
                await transaction.CommitAsync(ct);
                return true;
            }, cancellationToken);
        }
        catch (DbUpdateException ex) when (ex.InnerException is PostgresException { SqlState: PostgresErrorCodes.UniqueViolation })
        {
            return false;
        }
    }

    private async Task<string> RetryOrFailAsync(
        IServiceProvider services, CellSegDbContext db, SegmentationDelivery delivery, int attempts, string error, CancellationToken cancellationToken)
    {
        var item = delivery.Item;
        if (attempts >= options.Value.MaxAttempts)
        {
            var reason = $"Inference failed {attempts} times: {error}";
            if (await FailAsync(db, item, reason, cancellationToken))
            {
                await consumer.DeadLetterAsync(delivery, reason, cancellationToken);
                telemetry.DeadLetters.Add(1);
            }

            return "dead_lettered";
        }

        var requeued = await db.SegmentationTasks
            .Where(t => t.Id == item.TaskId && t.Status == SegmentationTaskStatus.Processing)
            .ExecuteUpdateAsync(set => set.SetProperty(t => t.Status, SegmentationTaskStatus.Queued).SetProperty(t => t.Error, error), cancellationToken);
        if (requeued > 0)
        {
            await SetImageStatusAsync(db, item.ImageId, ImageStatus.Queued, null, cancellationToken);
            var task = await db.SegmentationTasks.AsNoTracking().SingleAsync(t => t.Id == item.TaskId, cancellationToken);
            await services.GetRequiredService<SegmentationTaskDispatcher>().DispatchAsync(task, cancellationToken);
        }

        return "retried";
    }

    /// <summary>Marks the task and its image failed with the reason, unless the task already left processing.</summary>
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

        await SetImageStatusAsync(db, item.ImageId, ImageStatus.Failed, reason, cancellationToken);
        await PublishAsync(item, "failed", error: reason, cancellationToken: cancellationToken);
        LogTaskFailed(logger, item.TaskId, reason);
        return true;
    }

    private async Task SetImageStatusAsync(CellSegDbContext db, Guid imageId, ImageStatus status, string? error, CancellationToken cancellationToken)
    {
        var now = time.GetUtcNow();
        await db.Images.Where(i => i.Id == imageId).ExecuteUpdateAsync(set => set
            .SetProperty(i => i.Status, status)
            .SetProperty(i => i.Error, error)
            .SetProperty(i => i.UpdatedAt, now),
            cancellationToken);
    }

    private async Task PublishAsync(SegmentationWorkItem item, string status, string? error = null, int? objectCount = null, CancellationToken cancellationToken = default)
    {
        try
        {
            await events.PublishAsync(
                new TaskEvent(status, item.TaskId, item.ImageId, item.ProjectId, item.OwnerId, time.GetUtcNow(), error, objectCount),
                cancellationToken);
        }
        catch (StackExchange.Redis.RedisException ex)
        {
            // Events notify; the state is in Postgres. A lost event costs a client one refresh, not a result.
            LogEventLost(logger, item.TaskId, ex.Message);
        }
    }

    [LoggerMessage(Level = LogLevel.Information, Message = "Task {TaskId} segmented: {ObjectCount} objects, inference {InferenceMs:F1} ms")]
    private static partial void LogTaskCompleted(ILogger logger, Guid taskId, int objectCount, double inferenceMs);

    [LoggerMessage(Level = LogLevel.Warning, Message = "Task {TaskId} failed: {Reason}")]
    private static partial void LogTaskFailed(ILogger logger, Guid taskId, string reason);

    [LoggerMessage(Level = LogLevel.Error, Message = "Task {TaskId} could not be processed; it stays pending")]
    private static partial void LogTaskError(ILogger logger, Exception exception, Guid taskId);

    [LoggerMessage(Level = LogLevel.Warning, Message = "Event for task {TaskId} not published: {Reason}")]
    private static partial void LogEventLost(ILogger logger, Guid taskId, string reason);
}
