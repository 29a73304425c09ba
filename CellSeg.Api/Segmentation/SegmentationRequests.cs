using CellSeg.Data;
using CellSeg.Data.Model;
using CellSeg.Data.Queue;
using Microsoft.EntityFrameworkCore;
using Npgsql;

namespace CellSeg.Api.Segmentation;

public sealed record SegmentationParameters(string Model, float Threshold, bool DetectHoles, int Priority, bool Force);

/// <summary>What happened to each image of a request.</summary>
public sealed record QueueOutcome(IReadOnlyList<SegmentationTask> Queued, IReadOnlyList<SegmentationTask> AlreadyActive, IReadOnlyList<Guid> AlreadySegmented);

/// <summary>
/// Creates and cancels segmentation tasks: Postgres first (the truth, with one active task per image enforced by a
/// unique index), then the queue; events tell the real-time channels and the workers.
/// </summary>
public sealed partial class SegmentationRequests(
    CellSegDbContext db,
    SegmentationTaskDispatcher dispatcher,
    ITaskEventBus events,
    ApiTelemetry telemetry,
    TimeProvider time,
    ILogger<SegmentationRequests> logger)
{
    /// <summary>Queues the given images (all the caller's) unless already queued or processing, or segmented without force.</summary>
    public async Task<QueueOutcome> QueueAsync(Guid ownerId, IReadOnlyList<Image> images, SegmentationParameters parameters, Guid? batchId, CancellationToken cancellationToken)
    {
        var imageIds = images.Select(i => i.Id).ToList();
        var active = await db.SegmentationTasks.AsNoTracking()
            .Where(t => imageIds.Contains(t.ImageId) && (t.Status == SegmentationTaskStatus.Queued || t.Status == SegmentationTaskStatus.Processing))
            .ToListAsync(cancellationToken);
        var activeImages = active.Select(t => t.ImageId).ToHashSet();
        var segmented = images.Where(i => !activeImages.Contains(i.Id) && i.Status == ImageStatus.Segmented && !parameters.Force).Select(i => i.Id).ToList();
        var now = time.GetUtcNow();
        var queued = images
            .Where(i => !activeImages.Contains(i.Id) && (parameters.Force || i.Status != ImageStatus.Segmented))
            .Select(i => new SegmentationTask(now)
            {
                ImageId = i.Id,
                ProjectId = i.ProjectId,
                OwnerId = ownerId,
                BatchId = batchId,
                Model = parameters.Model,
                Threshold = parameters.Threshold,
                DetectHoles = parameters.DetectHoles,
                Priority = parameters.Priority,
                CreatedAt = now,
            })
            .ToList();
        if (queued.Count == 0)
        {
            return new QueueOutcome([], active, segmented);
        }

        db.SegmentationTasks.AddRange(queued);
        var queuedImages = queued.Select(t => t.ImageId).ToList();
        try
        {
            await db.SaveChangesAsync(cancellationToken);
        }
        catch (DbUpdateException ex) when (ex.InnerException is PostgresException { SqlState: PostgresErrorCodes.UniqueViolation })
        {
            // A concurrent request queued some of these images first: report theirs as already active.
            db.ChangeTracker.Clear();
            return await QueueAsync(ownerId, images, parameters, batchId, cancellationToken);
        }

        await db.Images.Where(i => queuedImages.Contains(i.Id)).ExecuteUpdateAsync(set => set
            .SetProperty(i => i.Status, ImageStatus.Queued)
            .SetProperty(i => i.Error, (string?)null)
            .SetProperty(i => i.UpdatedAt, now),
            cancellationToken);
        telemetry.TasksQueued.Add(queued.Count);

        try
        {
            // Announced before dispatching, so no worker can announce "processing" ahead of "queued".
            // Pipelined: a batch of thousands must not wait for a round trip per event.
            await Task.WhenAll(queued.Select(task => events.PublishAsync(ToEvent(task, "queued", now), cancellationToken)));
            await dispatcher.DispatchAsync(queued, cancellationToken);
        }
        catch (StackExchange.Redis.RedisException ex)
        {
            // The tasks are committed and stay queued in Postgres; the reconciler dispatches them once Redis answers.
            LogDispatchFailed(logger, ex, queued.Count);
        }

        return new QueueOutcome(queued, active, segmented);
    }

    /// <summary>Cancels the caller's queued and processing tasks that <paramref name="scope"/> selects; returns them.</summary>
    public async Task<IReadOnlyList<SegmentationTask>> CancelAsync(Guid ownerId, Func<IQueryable<SegmentationTask>, IQueryable<SegmentationTask>> scope, CancellationToken cancellationToken)
    {
        var candidates = await scope(db.SegmentationTasks.AsNoTracking()
                .Where(t => t.OwnerId == ownerId && (t.Status == SegmentationTaskStatus.Queued || t.Status == SegmentationTaskStatus.Processing)))
            .ToListAsync(cancellationToken);
        if (candidates.Count == 0)
        {
            return [];
        }

        var now = time.GetUtcNow();
        var ids = candidates.Select(t => t.Id).ToList();
        await db.SegmentationTasks
            .Where(t => ids.Contains(t.Id) && (t.Status == SegmentationTaskStatus.Queued || t.Status == SegmentationTaskStatus.Processing))
            .ExecuteUpdateAsync(set => set
                .SetProperty(t => t.Status, SegmentationTaskStatus.Cancelled)
                .SetProperty(t => t.CompletedAt, now),
                cancellationToken);

        // Tasks that finished in the meantime keep their outcome; only the cancelled ones are reported and announced.
        var cancelled = await db.SegmentationTasks.AsNoTracking()
            .Where(t => ids.Contains(t.Id) && t.Status == SegmentationTaskStatus.Cancelled)
            .ToListAsync(cancellationToken);
        var cancelledIds = cancelled.Select(t => t.Id).ToList();
        var imageIds = cancelled.Select(t => t.ImageId).ToList();
        await db.Images
            .Where(i => imageIds.Contains(i.Id) && (i.Status == ImageStatus.Queued || i.Status == ImageStatus.Processing))
            .ExecuteUpdateAsync(set => set.SetProperty(i => i.Status, ImageStatus.None).SetProperty(i => i.UpdatedAt, now), cancellationToken);

        try
        {
            await events.PublishCancellationAsync(cancelledIds, cancellationToken);
            await Task.WhenAll(cancelled.Select(task => events.PublishAsync(ToEvent(task, "cancelled", now), cancellationToken)));
        }
        catch (StackExchange.Redis.RedisException ex)
        {
            // Workers still check Postgres before running and before storing, so a cancelled task cannot complete.
            LogCancelNotPublished(logger, ex, cancelled.Count);
        }

        return cancelled;
    }

    private static TaskEvent ToEvent(SegmentationTask task, string status, DateTimeOffset at) =>
        new(status, task.Id, task.ImageId, task.ProjectId, task.OwnerId, at);

    [LoggerMessage(Level = LogLevel.Error, Message = "{Count} task(s) are committed but could not be dispatched")]
    private static partial void LogDispatchFailed(ILogger logger, Exception exception, int count);

    [LoggerMessage(Level = LogLevel.Warning, Message = "Cancellation of {Count} task(s) could not be announced")]
    private static partial void LogCancelNotPublished(ILogger logger, Exception exception, int count);
}
