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
    DispatchMarks marks,
    ITaskEventBus events,
    ApiTelemetry telemetry,
    TimeProvider time,
    ILogger<SegmentationRequests> logger)
{
    /// <summary>Queues the given images (all the caller's) unless already queued or processing, or segmented without force.</summary>
    public async Task<QueueOutcome> QueueAsync(Guid ownerId, IReadOnlyList<Image> images, SegmentationParameters parameters, Guid? batchId, CancellationToken cancellationToken)
    {
        var now = time.GetUtcNow();
        List<Guid> segmented = [.. images.Where(i => i.Status == ImageStatus.Segmented && !parameters.Force).Select(i => i.Id)];
        List<SegmentationTask> candidates =
        [
            .. images
                .Where(i => parameters.Force || i.Status != ImageStatus.Segmented)
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
                }),
        ];
        if (candidates.Count == 0)
        {
            return new QueueOutcome([], [], segmented);
        }

        // One statement, one round trip: the unique index on an image's active task decides, so a concurrent request
        // for the same image waits for the other's commit and then leaves the image to it.
        var inserted = await InsertAsync(candidates, now, cancellationToken);
        List<SegmentationTask> queued = [.. candidates.Where(t => inserted.Contains(t.Id))];
        List<SegmentationTask> active = [];
        QueueOutcome? again = null;
        if (queued.Count < candidates.Count)
        {
            List<Guid> skipped = [.. candidates.Where(t => !inserted.Contains(t.Id)).Select(t => t.ImageId)];
            active = await db.SegmentationTasks.AsNoTracking()
                .Where(t => skipped.Contains(t.ImageId) && (t.Status == SegmentationTaskStatus.Queued || t.Status == SegmentationTaskStatus.Processing))
                .ToListAsync(cancellationToken);
            if (active.Count < skipped.Count)
            {
                // An active task ended between the two statements: ask again for those images.
                var ended = skipped.Except(active.Select(t => t.ImageId)).ToHashSet();
                again = await QueueAsync(ownerId, [.. images.Where(i => ended.Contains(i.Id))], parameters, batchId, cancellationToken);
            }
        }

        await AnnounceAndDispatchAsync(queued, now, cancellationToken);
        return again is null
            ? new QueueOutcome(queued, active, segmented)
            : new QueueOutcome([.. queued, .. again.Queued], [.. active, .. again.AlreadyActive], [.. segmented, .. again.AlreadySegmented]);
    }

    /// <summary>Inserts the tasks whose image has no active task and marks those images queued; returns the inserted ids.</summary>
    private async Task<HashSet<Guid>> InsertAsync(List<SegmentationTask> tasks, DateTimeOffset now, CancellationToken cancellationToken)
    {
        await db.Database.OpenConnectionAsync(cancellationToken);
        try
        {
            return await InsertAsync((NpgsqlConnection)db.Database.GetDbConnection(), tasks, now, cancellationToken);
        }
        finally
        {
            await db.Database.CloseConnectionAsync();
        }
    }

    private async Task<HashSet<Guid>> InsertAsync(NpgsqlConnection connection, List<SegmentationTask> tasks, DateTimeOffset now, CancellationToken cancellationToken)
    {
        // The parameters are the request's, the same for every task.
        var first = tasks[0];
        await using var command = new NpgsqlCommand(
            """
            WITH inserted AS (
                INSERT INTO segmentation_tasks ("Id", "ImageId", "ProjectId", "OwnerId", "BatchId", "Model", "Threshold", "DetectHoles", "Priority", "Status", "Attempts", "CreatedAt")
                SELECT u.id, u.image_id, u.project_id, $4, $5, $6, $7, $8, $9, 'Queued', 0, $10
                FROM unnest($1::uuid[], $2::uuid[], $3::uuid[]) AS u(id, image_id, project_id)
                ON CONFLICT ("ImageId") WHERE "Status" IN ('Queued', 'Processing') DO NOTHING
                RETURNING "Id", "ImageId"
            ), marked AS (
                UPDATE images SET "Status" = 'Queued', "Error" = NULL, "UpdatedAt" = $10
                FROM inserted WHERE images."Id" = inserted."ImageId"
            )
            SELECT "Id" FROM inserted
            """,
            connection);
        command.Parameters.Add(new NpgsqlParameter<Guid[]> { TypedValue = [.. tasks.Select(t => t.Id)] });
        command.Parameters.Add(new NpgsqlParameter<Guid[]> { TypedValue = [.. tasks.Select(t => t.ImageId)] });
        command.Parameters.Add(new NpgsqlParameter<Guid[]> { TypedValue = [.. tasks.Select(t => t.ProjectId)] });
        command.Parameters.Add(new NpgsqlParameter<Guid> { TypedValue = first.OwnerId });
        command.Parameters.Add(new NpgsqlParameter { Value = (object?)first.BatchId ?? DBNull.Value, NpgsqlDbType = NpgsqlTypes.NpgsqlDbType.Uuid });
        command.Parameters.Add(new NpgsqlParameter<string> { TypedValue = first.Model });
        command.Parameters.Add(new NpgsqlParameter<float> { TypedValue = first.Threshold });
        command.Parameters.Add(new NpgsqlParameter<bool> { TypedValue = first.DetectHoles });
        command.Parameters.Add(new NpgsqlParameter<int> { TypedValue = first.Priority });
        command.Parameters.Add(new NpgsqlParameter<DateTimeOffset> { TypedValue = now });
        var inserted = new HashSet<Guid>(tasks.Count);
        await using (var reader = await command.ExecuteReaderAsync(cancellationToken))
        {
            while (await reader.ReadAsync(cancellationToken))
            {
                inserted.Add(reader.GetGuid(0));
            }
        }

        telemetry.TasksQueued.Add(inserted.Count);
        return inserted;
    }

    private async Task AnnounceAndDispatchAsync(List<SegmentationTask> queued, DateTimeOffset now, CancellationToken cancellationToken)
    {
        if (queued.Count == 0)
        {
            return;
        }

        try
        {
            // Announced before dispatching, so no worker can announce "processing" ahead of "queued". The events go
            // out on the same connection as the entries and ahead of them, so they are not awaited one by one.
            var announced = Task.WhenAll(queued.Select(task => events.PublishAsync(ToEvent(task, "queued", now), cancellationToken)));
            var epoch = await dispatcher.EnqueueAsync(queued, cancellationToken);
            // Recorded in the background with other requests' marks: the request does not wait for that write.
            marks.Add([.. queued.Select(t => t.Id)], epoch, time.GetUtcNow());
            await announced;
        }
        catch (StackExchange.Redis.RedisException ex)
        {
            // The tasks are committed and stay queued in Postgres; the reconciler dispatches them once Redis answers.
            LogDispatchFailed(logger, ex, queued.Count);
        }
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
            .LockedInIdOrder(ids, SegmentationTaskStatus.Queued, SegmentationTaskStatus.Processing)
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
