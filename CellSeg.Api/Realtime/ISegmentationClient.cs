using CellSeg.Api.Apis;

namespace CellSeg.Api.Realtime;

/// <summary>
/// A change of an image's segmentation: queued, processing, segmented (with its object count), failed (with the
/// reason) or cancelled (the image is back to no status).
/// </summary>
public sealed record ImageStatusChange(Guid ImageId, Guid ProjectId, Guid TaskId, string Status, string? Error, int? ObjectCount, DateTimeOffset At);

/// <summary>An image's task has ended: segmented with its object count, or failed with the reason.</summary>
public sealed record ImageCompletion(Guid ImageId, Guid ProjectId, Guid TaskId, bool Segmented, int? ObjectCount, string? Error, DateTimeOffset At);

/// <summary>What the segmentation hub sends to a client; each method is a message name the client listens to.</summary>
public interface ISegmentationClient
{
    Task ImageStatusChanged(ImageStatusChange change);

    Task ImageCompleted(ImageCompletion completion);

    /// <summary>The caller's queue statistics, as <c>GET /api/segmentation/stats</c> answers them, after they changed.</summary>
    Task QueueStatisticsChanged(SegmentationApi.QueueStatistics statistics);
}
