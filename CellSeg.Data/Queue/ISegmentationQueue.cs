namespace CellSeg.Data.Queue;

/// <summary>The producer side: the Api dispatches tasks it has committed to Postgres.</summary>
public interface ISegmentationQueue
{
    Task EnqueueAsync(SegmentationWorkItem item, CancellationToken cancellationToken);
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
