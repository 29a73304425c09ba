namespace CellSeg.Data.Model;

/// <summary>
/// The polygons Inference found for one task. Keyed by the task, so a redelivered task cannot store a second result.
/// </summary>
public sealed class SegmentationResult
{
    /// <summary>A new result created at <paramref name="now"/>.</summary>
    public SegmentationResult(DateTimeOffset now)
    {
        CreatedAt = now;
    }

    /// <summary>For EF Core's materialisation only: the row read sets every value, so no clock is read here.</summary>
    private SegmentationResult()
    {
    }

    public Guid TaskId { get; set; }
    public Guid ImageId { get; set; }
    public required string Model { get; set; }
    public int Width { get; set; }
    public int Height { get; set; }
    public int ObjectCount { get; set; }

    /// <summary>The detected objects (external and internal polygons with metrics) as JSON, stored as jsonb.</summary>
    public required string Objects { get; set; }

    public required string Device { get; set; }
    public int BatchSize { get; set; }
    public double InferenceMs { get; set; }
    public DateTimeOffset CreatedAt { get; set; }
}
