namespace CellSeg.Data.Model;

/// <summary>
/// One request to segment one image with one model. Postgres holds it as the truth; the queue only dispatches it.
/// </summary>
public sealed class SegmentationTask
{
    /// <summary>A new task with a fresh version-7 id, created at <paramref name="now"/>.</summary>
    public SegmentationTask(DateTimeOffset now)
    {
        Id = Guid.CreateVersion7();
        CreatedAt = now;
    }

    /// <summary>
    /// For EF Core's materialisation only: the row read sets every value, so nothing is generated here (an id and
    /// clock readings per row read were a fifth of the Api's CPU when it listed images).
    /// </summary>
    private SegmentationTask()
    {
    }

    public Guid Id { get; set; }
    public Guid ImageId { get; set; }
    public Guid ProjectId { get; set; }
    public Guid OwnerId { get; set; }
    public Guid? BatchId { get; set; }
    public required string Model { get; set; }
    public float Threshold { get; set; } = 0.5f;
    public bool DetectHoles { get; set; } = true;
    public int Priority { get; set; }
    public SegmentationTaskStatus Status { get; set; } = SegmentationTaskStatus.Queued;
    public int Attempts { get; set; }
    public string? Error { get; set; }
    public DateTimeOffset CreatedAt { get; set; }
    public DateTimeOffset? StartedAt { get; set; }
    public DateTimeOffset? CompletedAt { get; set; }

    /// <summary>
    /// The Redis epoch (<see cref="Queue.IDispatchLedger"/>) the task was last added to the stream in; null until then.
    /// A task whose epoch is not Redis's current one was lost with a flushed or restarted Redis and is dispatched again.
    /// </summary>
    public string? DispatchEpoch { get; set; }

    public DateTimeOffset? DispatchedAt { get; set; }

    public Image? Image { get; set; }
}

public enum SegmentationTaskStatus
{
    Queued,
    Processing,
    Completed,
    Failed,
    Cancelled,
}
