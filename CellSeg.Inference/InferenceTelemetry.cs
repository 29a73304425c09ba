using System.Diagnostics;
using System.Diagnostics.Metrics;

namespace CellSeg.Inference;

/// <summary>The service's ActivitySource and Meter, both named "CellSeg.Inference".</summary>
public sealed class InferenceTelemetry : IDisposable
{
    public const string Name = "CellSeg.Inference";

    public static readonly ActivitySource Source = new(Name);

    private readonly Meter _meter;

    public InferenceTelemetry(IMeterFactory meterFactory)
    {
        _meter = meterFactory.Create(Name);
        Images = _meter.CreateCounter<long>("cellseg.inference.images", "{image}", "Images segmented");
        Failures = _meter.CreateCounter<long>("cellseg.inference.failures", "{request}", "Requests that failed, by reason");
        InferenceDuration = _meter.CreateHistogram<double>("cellseg.inference.duration", "ms", "Time spent running the network per batch");
        BatchSize = _meter.CreateHistogram<int>("cellseg.inference.batch_size", "{image}", "Images per network run");
        Requests = _meter.CreateCounter<long>("cellseg.inference.requests", "{request}", "Segmentation requests received");
        QueueWait = _meter.CreateHistogram<double>("cellseg.inference.queue_wait", "ms", "Time an image waited for its batch");
        BatchSplits = _meter.CreateCounter<long>("cellseg.inference.batch_splits", "{split}", "Batches split in halves, by reason (budget, out_of_memory)");
        AloneRuns = _meter.CreateCounter<long>("cellseg.inference.alone_runs", "{batch}", "Lone images run on the every-core session");
    }

    /// <summary>Reports the images waiting per model, read when metrics are collected.</summary>
    public void ObserveQueueDepth(Func<IEnumerable<Measurement<int>>> observe) =>
        _meter.CreateObservableGauge("cellseg.inference.queue_depth", observe, "{image}", "Images waiting for a batch");

    public Counter<long> Images { get; }
    public Counter<long> Failures { get; }
    public Histogram<double> InferenceDuration { get; }
    public Histogram<int> BatchSize { get; }
    public Counter<long> Requests { get; }
    public Histogram<double> QueueWait { get; }
    public Counter<long> BatchSplits { get; }
    public Counter<long> AloneRuns { get; }

    public void Dispose() => _meter.Dispose();
}
