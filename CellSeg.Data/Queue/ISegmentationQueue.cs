namespace CellSeg.Data.Queue;

/// <summary>The producer side: tasks committed to Postgres are dispatched through it.</summary>
public interface ISegmentationQueue
{
    /// <summary>Adds the item and returns the queue's epoch it was added in (see <see cref="GetEpochAsync"/>).</summary>
    Task<string> EnqueueAsync(SegmentationWorkItem item, CancellationToken cancellationToken);

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

    /// <summary>Returns when new work may be there: on a producer's signal, or after <paramref name="maxWait"/>.</summary>
    Task WaitForWorkAsync(TimeSpan maxWait, CancellationToken cancellationToken);
}
