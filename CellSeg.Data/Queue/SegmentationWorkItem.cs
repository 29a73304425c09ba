namespace CellSeg.Data.Queue;

/// <summary>
/// What the queue carries for one segmentation task: enough to run it without reading Postgres first,
/// plus the W3C trace context of the request that created it.
/// </summary>
public sealed record SegmentationWorkItem(
    Guid TaskId,
    Guid ImageId,
    Guid ProjectId,
    Guid OwnerId,
    string Model,
    float Threshold,
    bool DetectHoles,
    int Priority,
    string? TraceParent = null,
    string? TraceState = null);

/// <summary>A work item as delivered to one consumer; <see cref="DeliveryId"/> acknowledges it.</summary>
public sealed record SegmentationDelivery(string DeliveryId, SegmentationWorkItem Item);
