namespace CellSeg.Inference.Segmentation;

/// <summary>Why a request could not be segmented; each kind maps to one HTTP status with a ProblemDetails reason.</summary>
public enum SegmentationFailureKind
{
    InvalidRequest,
    UnknownModel,
    ModelNotReady,
    UnreadableImage,
    ImageTooLarge,
    Busy,
    TimedOut,
}

public sealed class SegmentationFailedException(SegmentationFailureKind kind, string reason) : Exception(reason)
{
    public SegmentationFailureKind Kind { get; } = kind;
}
