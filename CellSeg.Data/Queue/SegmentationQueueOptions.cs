namespace CellSeg.Data.Queue;

public sealed class SegmentationQueueOptions
{
    public const string SectionName = "SegmentationQueue";

    public string StreamKey { get; set; } = "cellseg:segmentation";
    public string ConsumerGroup { get; set; } = "queueworker";
    public string SignalChannel { get; set; } = "cellseg:segmentation:signal";
    public string EpochKey { get; set; } = "cellseg:segmentation:epoch";
    public string DeadLetterStreamKey { get; set; } = "cellseg:segmentation:dead";

    /// <summary>Unique per process so that replicas never share pending entries; derived when not set.</summary>
    public string? ConsumerName { get; set; }
}
