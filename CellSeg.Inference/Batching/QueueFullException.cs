namespace CellSeg.Inference.Batching;

/// <summary>The model's queue is at capacity: the caller should back off and retry (HTTP 429).</summary>
public sealed class QueueFullException(string model, int capacity)
    : Exception($"Model '{model}' already has {capacity} images waiting; retry later.");
