namespace CellSeg.Inference.Batching;

/// <summary>
/// One image's probability map from a batch (in a pooled array that may be longer than the map), with how the
/// batch ran.
/// </summary>
public sealed record BatchResult(float[] Probabilities, int BatchSize, double QueueMs, double InferenceMs);
