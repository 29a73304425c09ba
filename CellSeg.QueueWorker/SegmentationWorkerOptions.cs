using System.ComponentModel.DataAnnotations;

namespace CellSeg.QueueWorker;

public sealed class SegmentationWorkerOptions
{
    public const string SectionName = "SegmentationWorker";

    /// <summary>Resolved by service discovery: <c>http://inference</c> reads <c>services:inference:http:0..n</c>, one per instance.</summary>
    [Required]
    public Uri InferenceBaseAddress { get; set; } = new("http://inference");

    /// <summary>Batches this worker keeps in flight at once.</summary>
    [Range(1, 256)]
    public int Slots { get; set; } = 4;

    /// <summary>Batches' worth of images one user may have in flight at once, so that a large request cannot take every slot.</summary>
    [Range(1, 256)]
    public int MaxInFlightPerUser { get; set; } = 2;

    /// <summary>
    /// How long a slot that was idle waits, once new work arrives, before it takes a batch: requests sent together
    /// reach the worker a few milliseconds apart, and without the wait the first of them took the idle slots with
    /// whole batches of its own before the others were read. 0 takes a batch at once.
    /// </summary>
    [Range(0, 1000)]
    public int GatherMs { get; set; } = 25;

    /// <summary>Deliveries read ahead and held for fair scheduling.</summary>
    [Range(1, 100_000)]
    public int MaxBuffered { get; set; } = 2000;

    /// <summary>Batch size for a model Inference has not reported yet.</summary>
    [Range(1, 1024)]
    public int DefaultMaxBatch { get; set; } = 4;

    /// <summary>A delivery held this long by a consumer that never acknowledged it is taken over (its worker died).</summary>
    [Range(100, 3_600_000)]
    public int ClaimIdleMs { get; set; } = 120_000;

    /// <summary>How often abandoned deliveries are looked for.</summary>
    [Range(100, 3_600_000)]
    public int ClaimIntervalMs { get; set; } = 10_000;

    /// <summary>Entries read from the stream per XREADGROUP.</summary>
    [Range(1, 1000)]
    public int ReadCount { get; set; } = 16;

    [Range(1, 10)]
    public int MaxAttempts { get; set; } = 3;

    /// <summary>Longest idle wait between reads when no producer signal arrives.</summary>
    [Range(10, 60_000)]
    public int IdleWaitMaxMs { get; set; } = 2000;

    /// <summary>How often Postgres is compared with the queue to dispatch tasks the queue never got or lost.</summary>
    [Range(100, 600_000)]
    public int ReconcileIntervalMs { get; set; } = 5000;

    /// <summary>A committed task not dispatched after this long is dispatched by the reconciler (the Api died or Redis was down).</summary>
    [Range(0, 600_000)]
    public int DispatchGraceMs { get; set; } = 5000;
}
