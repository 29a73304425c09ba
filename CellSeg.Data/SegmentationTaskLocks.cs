using CellSeg.Data.Model;
using Microsoft.EntityFrameworkCore;

namespace CellSeg.Data;

/// <summary>
/// Statements that change many task rows at once take the rows' locks in "Id" order. A worker's claim, a worker's
/// stored results and a user's cancellation can each hold some rows of the same set while they wait for the rest;
/// with each lock order left to its plan (a primary-key scan goes in "Id" order, a scan of another index or of
/// the table itself in another), two of them could each wait for the other until Postgres breaks the deadlock after
/// a second and rolls one back. In one order, the later statement only waits.
/// </summary>
public static class SegmentationTaskLocks
{
    /// <summary>
    /// The tasks among <paramref name="ids"/> in one of <paramref name="statuses"/>, locked in "Id" order when the query
    /// runs, with the lock an update of the row takes (<c>FOR NO KEY UPDATE</c>: inserts that refer to the task still
    /// go ahead). Compose <c>ExecuteUpdateAsync</c> on it, or read it inside a transaction. A task whose status another
    /// transaction changed while this one waited for its lock is left out.
    /// </summary>
    public static IQueryable<SegmentationTask> LockedInIdOrder(this DbSet<SegmentationTask> tasks, IReadOnlyCollection<Guid> ids, params ReadOnlySpan<SegmentationTaskStatus> statuses)
    {
        Guid[] idArray = [.. ids];
        var statusNames = new string[statuses.Length];
        for (var i = 0; i < statuses.Length; i++)
        {
            statusNames[i] = statuses[i].ToString();
        }

        return tasks.FromSql(
            $"""SELECT * FROM segmentation_tasks WHERE "Id" = ANY({idArray}) AND "Status" = ANY({statusNames}) ORDER BY "Id" FOR NO KEY UPDATE""");
    }
}
