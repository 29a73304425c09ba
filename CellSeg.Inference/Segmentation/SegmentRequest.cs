namespace CellSeg.Inference.Segmentation;

/// <summary>The parameters of one segmentation, as query-string values of <c>POST /v1/segment</c>.</summary>
public sealed record SegmentParameters(string Model, float? Threshold, bool DetectHoles, int Priority = 0);

public sealed record SegmentTimings(double QueueMs, double PreprocessMs, double InferenceMs, double PostprocessMs);

/// <summary>What <c>POST /v1/segment</c> answers: the objects of one image and how they were found.</summary>
public sealed record SegmentResponse(
    string Model,
    string Device,
    int Width,
    int Height,
    int BatchSize,
    int ObjectCount,
    IReadOnlyList<CellSeg.Imaging.Postprocessing.DetectedObject> Objects,
    SegmentTimings Timings);
