namespace CellSeg.Data.Queue;

/// <summary>The producer side: tasks committed to Postgres are dispatched through it.</summary>
public interface ISegmentationQueue
{
    /// <summary>Adds the item and returns the queue's epoch it was added in (see <see cref="GetEpochAsync"/>).</summary>
    Task<string> EnqueueAsync(SegmentationWorkItem item, CancellationToken cancellationToken);

    /// <summary>Adds many items in one pipelined round trip; returns the epoch read before adding them.</summary>
    Task<string> EnqueueManyAsync(IReadOnlyList<SegmentationWorkItem> items, CancellationToken cancellationToken);

    /// <summary>
    /// An id that changes whenever the queue loses its contents (Redis flushed, or restarted without persistence):
    /// an item added in another epoch is gone and must be added again.
    /// </summary>
    Task<string> GetEpochAsync(CancellationToken cancellationToken);
}

/// <summary>
/// The consumer side: each worker reads deliveries that no other worker of its group holds and acknowledges
/// them only after their result is committed.
/// </summary>
public interface ISegmentationQueueConsumer
{
    Task<IReadOnlyList<SegmentationDelivery>> ReadAsync(int maxCount, CancellationToken cancellationToken);

    Task AcknowledgeAsync(IReadOnlyCollection<string> deliveryIds, CancellationToken cancellationToken);

    /// <summary>
    /// Takes over deliveries another consumer has held unacknowledged for at least <paramref name="minIdle"/>
    /// (its process died): the crash recovery of the queue.
    /// </summary>
    Task<IReadOnlyList<SegmentationDelivery>> ClaimAbandonedAsync(TimeSpan minIdle, int maxCount, CancellationToken cancellationToken);

    /// <summary>Entries not yet delivered to the group (lag) and delivered but unacknowledged (pending).</summary>
    Task<QueueBacklog> GetBacklogAsync(CancellationToken cancellationToken);

    /// <summary>Moves a delivery that failed for good to the dead-letter stream, with the reason, and acknowledges it.</summary>
    Task DeadLetterAsync(SegmentationDelivery delivery, string reason, CancellationToken cancellationToken);

    /// <summary>Returns when new work may be there: on a producer's signal, or after <paramref name="maxWait"/>.</summary>
    Task WaitForWorkAsync(TimeSpan maxWait, CancellationToken cancellationToken);
}

public sealed record QueueBacklog(long Lag, long Pending);
