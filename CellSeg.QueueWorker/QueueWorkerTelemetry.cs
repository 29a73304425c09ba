using System.Diagnostics;
using System.Diagnostics.Metrics;

namespace CellSeg.QueueWorker;

/// <summary>The service's ActivitySource and Meter, both named "CellSeg.QueueWorker".</summary>
public sealed class QueueWorkerTelemetry : IDisposable
{
    public const string Name = "CellSeg.QueueWorker";

    public static readonly ActivitySource Source = new(Name);

    private readonly Meter _meter;

    public QueueWorkerTelemetry(IMeterFactory meterFactory)
    {
        _meter = meterFactory.Create(Name);
        Tasks = _meter.CreateCounter<long>("cellseg.worker.tasks", "{task}", "Tasks finished, by outcome");
        TaskDuration = _meter.CreateHistogram<double>("cellseg.worker.task.duration", "ms", "From dispatch to stored result");
        ActiveTasks = _meter.CreateUpDownCounter<long>("cellseg.worker.active_tasks", "{task}", "Tasks in flight");
    }

    public Counter<long> Tasks { get; }
    public Histogram<double> TaskDuration { get; }
    public UpDownCounter<long> ActiveTasks { get; }

    public void Dispose() => _meter.Dispose();
}
