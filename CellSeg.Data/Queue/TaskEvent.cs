namespace CellSeg.Data.Queue;

/// <summary>
/// A change of a task's state, published for the Api's real-time channels: queued, processing, segmented, failed,
/// cancelled. Carries what a client needs to update its view without another request.
/// </summary>
public sealed record TaskEvent(
    string Status,
    Guid TaskId,
    Guid ImageId,
    Guid ProjectId,
    Guid OwnerId,
    DateTimeOffset At,
    string? Error = null,
    int? ObjectCount = null);

/// <summary>Task state changes and cancellation requests between Api and worker replicas.</summary>
public interface ITaskEventBus
{
    Task PublishAsync(TaskEvent taskEvent, CancellationToken cancellationToken);

    Task SubscribeAsync(Func<TaskEvent, Task> handler, CancellationToken cancellationToken);

    /// <summary>Asks every worker to drop these tasks: waiting ones leave the queue, running ones are aborted.</summary>
    Task PublishCancellationAsync(IReadOnlyCollection<Guid> taskIds, CancellationToken cancellationToken);

    Task SubscribeCancellationsAsync(Action<IReadOnlyCollection<Guid>> handler, CancellationToken cancellationToken);
}
