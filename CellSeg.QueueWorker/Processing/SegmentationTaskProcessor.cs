using System.Diagnostics;
using CellSeg.Data;
using CellSeg.Data.Model;
using CellSeg.Data.Queue;
using Microsoft.EntityFrameworkCore;
using Microsoft.Extensions.Options;
using Npgsql;

namespace CellSeg.QueueWorker.Processing;

/// <summary>
/// Reads segmentation work from the queue, keeps up to <see cref="SegmentationWorkerOptions.Slots"/> tasks in
/// flight, sends each image to Inference, stores the result and only then acknowledges the delivery.
/// </summary>
public sealed partial class SegmentationTaskProcessor(
    IServiceScopeFactory scopeFactory,
    IServiceProvider services,
    ISegmentationQueueConsumer consumer,
    QueueWorkerTelemetry telemetry,
    IOptions<SegmentationWorkerOptions> options,
    TimeProvider timeProvider,
    ILogger<SegmentationTaskProcessor> logger) : BackgroundService
{
    protected override async Task ExecuteAsync(CancellationToken stoppingToken)
    {
        await DatabaseSchema.WaitUntilCurrentAsync(services, logger, stoppingToken);
        var settings = options.Value;
        var idleWait = TimeSpan.FromMilliseconds(10);

        while (!stoppingToken.IsCancellationRequested)
        {
            IReadOnlyList<SegmentationDelivery> deliveries;
            try
            {
                deliveries = await consumer.ReadAsync(settings.ReadCount, stoppingToken);
            }
            catch (Exception ex) when (ex is StackExchange.Redis.RedisException or TimeoutException)
            {
                LogQueueUnavailable(logger, ex.Message);
                await Task.Delay(TimeSpan.FromSeconds(1), stoppingToken);
                continue;
            }

            if (deliveries.Count == 0)
            {
                await consumer.WaitForWorkAsync(idleWait, stoppingToken);
                idleWait = TimeSpan.FromMilliseconds(Math.Min(idleWait.TotalMilliseconds * 2, settings.IdleWaitMaxMs));
                continue;
            }

            idleWait = TimeSpan.FromMilliseconds(10);
            await Parallel.ForEachAsync(
                deliveries,
                new ParallelOptions { MaxDegreeOfParallelism = settings.Slots, CancellationToken = stoppingToken },
                async (delivery, ct) => await ProcessAsync(delivery, ct));
        }
    }

    private async Task ProcessAsync(SegmentationDelivery delivery, CancellationToken cancellationToken)
    {
        var item = delivery.Item;
        var parent = TraceContext.Restore(item.TraceParent, item.TraceState);
        using var activity = QueueWorkerTelemetry.Source.StartActivity("segmentation.process", ActivityKind.Consumer, parent);
        activity?.SetTag("cellseg.task_id", item.TaskId);
        activity?.SetTag("cellseg.image_id", item.ImageId);
        activity?.SetTag("cellseg.model", item.Model);

        telemetry.ActiveTasks.Add(1);
        var started = timeProvider.GetTimestamp();
        var outcome = "failed";
        try
        {
            outcome = await RunTaskAsync(delivery, cancellationToken);
            await consumer.AcknowledgeAsync([delivery.DeliveryId], cancellationToken);
        }
        catch (Exception ex) when (ex is not OperationCanceledException || !cancellationToken.IsCancellationRequested)
        {
            // Not acknowledged: the delivery stays pending and is retried (issue #4 reclaims idle entries).
            activity?.SetStatus(ActivityStatusCode.Error, ex.Message);
            LogTaskError(logger, ex, item.TaskId);
        }
        finally
        {
            telemetry.ActiveTasks.Add(-1);
            telemetry.Tasks.Add(1, new KeyValuePair<string, object?>("outcome", outcome));
            telemetry.TaskDuration.Record(timeProvider.GetElapsedTime(started).TotalMilliseconds);
        }
    }

    /// <summary>Runs one task to a final or retryable state; returns the outcome for metrics.</summary>
    private async Task<string> RunTaskAsync(SegmentationDelivery delivery, CancellationToken cancellationToken)
    {
        var item = delivery.Item;
        await using var scope = scopeFactory.CreateAsyncScope();
        var db = scope.ServiceProvider.GetRequiredService<CellSegDbContext>();
        var inference = scope.ServiceProvider.GetRequiredService<InferenceClient>();

        var task = await db.SegmentationTasks.Include(t => t.Image).SingleOrDefaultAsync(t => t.Id == item.TaskId, cancellationToken);
        if (task?.Image is null || task.Status is SegmentationTaskStatus.Completed or SegmentationTaskStatus.Cancelled or SegmentationTaskStatus.Failed)
        {
            return "skipped";
        }

        var now = timeProvider.GetUtcNow();
        task.Status = SegmentationTaskStatus.Processing;
        task.StartedAt = now;
        task.Attempts++;
        task.Image.Status = ImageStatus.Processing;
        task.Image.UpdatedAt = now;
        await db.SaveChangesAsync(cancellationToken);

        var bytes = await db.ImageContents.Where(c => c.ImageId == item.ImageId).Select(c => c.Data).SingleAsync(cancellationToken);

        InferenceResult result;
        try
        {
            result = await inference.SegmentAsync(bytes, item, cancellationToken);
        }
        catch (InferenceRejectedException rejected)
        {
            await MarkFailedAsync(db, task, $"Inference rejected the image ({(int)rejected.Status}): {rejected.Message}", cancellationToken);
            return "rejected";
        }
        catch (Exception ex) when (ex is HttpRequestException or TaskCanceledException && !cancellationToken.IsCancellationRequested)
        {
            if (task.Attempts >= options.Value.MaxAttempts)
            {
                await MarkFailedAsync(db, task, $"Inference failed {task.Attempts} times: {ex.Message}", cancellationToken);
                return "failed";
            }

            task.Status = SegmentationTaskStatus.Queued;
            task.Image.Status = ImageStatus.Queued;
            await db.SaveChangesAsync(cancellationToken);
            await scope.ServiceProvider.GetRequiredService<SegmentationTaskDispatcher>().DispatchAsync(task, cancellationToken);
            return "retried";
        }

        db.SegmentationResults.Add(new SegmentationResult
        {
            TaskId = task.Id,
            ImageId = task.ImageId,
            Model = result.Model,
            Width = result.Width,
            Height = result.Height,
            ObjectCount = result.ObjectCount,
            Objects = result.Objects.GetRawText(),
            Device = result.Device,
            BatchSize = result.BatchSize,
            InferenceMs = result.Timings.InferenceMs,
            CreatedAt = timeProvider.GetUtcNow(),
        });
        task.Status = SegmentationTaskStatus.Completed;
        task.CompletedAt = timeProvider.GetUtcNow();
        task.Error = null;
        task.Image.Status = ImageStatus.Segmented;
        task.Image.Error = null;
        task.Image.UpdatedAt = task.CompletedAt.Value;

        try
        {
            await db.SaveChangesAsync(cancellationToken);
        }
        catch (DbUpdateException ex) when (ex.InnerException is PostgresException { SqlState: PostgresErrorCodes.UniqueViolation })
        {
            // A redelivery of a task whose result another attempt already stored: keep the first result.
            return "duplicate";
        }

        LogTaskCompleted(logger, task.Id, result.ObjectCount, result.Timings.InferenceMs);
        return "segmented";
    }

    private async Task MarkFailedAsync(CellSegDbContext db, SegmentationTask task, string reason, CancellationToken cancellationToken)
    {
        var now = timeProvider.GetUtcNow();
        task.Status = SegmentationTaskStatus.Failed;
        task.Error = reason;
        task.CompletedAt = now;
        task.Image!.Status = ImageStatus.Failed;
        task.Image.Error = reason;
        task.Image.UpdatedAt = now;
        await db.SaveChangesAsync(cancellationToken);
        LogTaskFailed(logger, task.Id, reason);
    }

    [LoggerMessage(Level = LogLevel.Information, Message = "Task {TaskId} segmented: {ObjectCount} objects, inference {InferenceMs:F1} ms")]
    private static partial void LogTaskCompleted(ILogger logger, Guid taskId, int objectCount, double inferenceMs);

    [LoggerMessage(Level = LogLevel.Warning, Message = "Task {TaskId} failed: {Reason}")]
    private static partial void LogTaskFailed(ILogger logger, Guid taskId, string reason);

    [LoggerMessage(Level = LogLevel.Error, Message = "Task {TaskId} could not be processed; it stays pending")]
    private static partial void LogTaskError(ILogger logger, Exception exception, Guid taskId);

    [LoggerMessage(Level = LogLevel.Warning, Message = "Queue unavailable: {Reason}")]
    private static partial void LogQueueUnavailable(ILogger logger, string reason);
}
