using CellSeg.Data.Model;
using CellSeg.Data.Queue;
using Microsoft.EntityFrameworkCore;

namespace CellSeg.Data;

/// <summary>
/// Puts committed tasks on the queue and records the queue epoch they went out in. Postgres stays the truth: a task
/// committed but never added (the process died in between, Redis was down) or added in a lost epoch is found by
/// the reconciler and dispatched again; a task dispatched twice is harmless because results are keyed by task.
/// </summary>
public sealed class SegmentationTaskDispatcher(CellSegDbContext db, ISegmentationQueue queue, TimeProvider time)
{
    public async Task DispatchAsync(SegmentationTask task, CancellationToken cancellationToken)
    {
        var epoch = await queue.EnqueueAsync(ToWorkItem(task), cancellationToken);
        var now = time.GetUtcNow();
        await db.SegmentationTasks
            .Where(t => t.Id == task.Id)
            .ExecuteUpdateAsync(update => update
                .SetProperty(t => t.DispatchEpoch, epoch)
                .SetProperty(t => t.DispatchedAt, now),
                cancellationToken);
        task.DispatchEpoch = epoch;
        task.DispatchedAt = now;
    }

    /// <summary>
    /// Puts the tasks on the queue and returns the epoch they went out in, for the caller to record (see
    /// <see cref="DispatchMarks"/>): until it is recorded, the reconciler takes the tasks for undispatched.
    /// </summary>
    public Task<string> EnqueueAsync(IReadOnlyList<SegmentationTask> tasks, CancellationToken cancellationToken) =>
        queue.EnqueueManyAsync([.. tasks.Select(ToWorkItem)], cancellationToken);

    private static SegmentationWorkItem ToWorkItem(SegmentationTask task) =>
        new(task.Id, task.ImageId, task.ProjectId, task.OwnerId, task.Model, task.Threshold, task.DetectHoles, task.Priority);
}
