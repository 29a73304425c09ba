using System.ComponentModel.DataAnnotations;

namespace CellSeg.Inference.Batching;

/// <summary>
/// How requests for one model are gathered into batches. Defaults suit a CPU; the inference benchmark
/// (<c>perf/CellSeg.LoadGen -- inference</c>) measures the best values for a machine.
/// </summary>
public sealed class BatchingOptions
{
    public const string SectionName = "Inference:Batching";

    /// <summary>Largest batch; 0 takes the model's <c>maxBatch</c> from its model.json.</summary>
    [Range(0, 1024)]
    public int MaxBatch { get; set; }

    /// <summary>
    /// Per model, the most images one call takes when the model runs on a CPU; the model's <c>maxBatch</c> stays what
    /// callers may send at once (a worker's batch) and what a GPU takes. On a CPU larger calls run slower per image
    /// (cache), so the inference benchmark's best raw batch belongs here. <see cref="MaxBatch"/>, where set, wins.
    /// </summary>
    public Dictionary<string, int> CpuBatch { get; set; } = new(StringComparer.OrdinalIgnoreCase);

    /// <summary>Batch an executor waits to fill (up to <see cref="MaxQueueDelayMs"/>); 0 takes the model's <c>preferredBatch</c>.</summary>
    [Range(0, 1024)]
    public int PreferredBatch { get; set; }

    /// <summary>
    /// How long an idle executor waits for a batch to fill once it holds fewer than the preferred batch.
    /// 0 runs at once with whatever is queued: under load batches still form while the previous one runs.
    /// </summary>
    [Range(0, 1000)]
    public double MaxQueueDelayMs { get; set; }

    /// <summary>Images that may wait per model; past it requests are refused with 429.</summary>
    [Range(1, 100_000)]
    public int QueueCapacity { get; set; } = 512;

    /// <summary>Batches run at once per model on the shared session; 0: one per core on CPU, one on a GPU.</summary>
    [Range(0, 64)]
    public int Executors { get; set; }

    /// <summary>Bytes a batch may use; 0 means no limit. A larger batch is split in halves before it runs.</summary>
    [Range(0, long.MaxValue)]
    public long MemoryBudgetBytes { get; set; }

    /// <summary>Bytes one image costs in a batch; 0 estimates it from the model's tensors.</summary>
    [Range(0, long.MaxValue)]
    public long MemoryPerImageBytes { get; set; }

    /// <summary>Longest a request may wait and run before it is dropped with a timeout.</summary>
    [Range(1, 3_600_000)]
    public int RequestTimeoutMs { get; set; } = 120_000;
}
