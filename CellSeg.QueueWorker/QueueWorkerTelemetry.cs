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
        BusySlots = _meter.CreateUpDownCounter<long>("cellseg.worker.busy_slots", "{batch}", "Slots holding a batch");
        Reclaims = _meter.CreateCounter<long>("cellseg.worker.reclaims", "{delivery}", "Deliveries taken over from dead workers");
        DeadLetters = _meter.CreateCounter<long>("cellseg.worker.dead_letters", "{task}", "Tasks given up and moved to the dead-letter stream");
    }

    /// <summary>The stream's backlog as last read: what KEDA scales on, and what an operator watches.</summary>
    public void ObserveBacklog(Func<(long Lag, long Pending)> observe)
    {
        _meter.CreateObservableGauge("cellseg.worker.stream_lag", () => observe().Lag, "{entry}", "Stream entries not yet delivered to the worker group");
        _meter.CreateObservableGauge("cellseg.worker.pending", () => observe().Pending, "{entry}", "Entries delivered and not yet acknowledged");
    }

    /// <summary>Reports the deliveries held for fair scheduling, read when metrics are collected.</summary>
    public void ObserveBuffered(Func<int> observe) =>
        _meter.CreateObservableGauge("cellseg.worker.buffered", observe, "{task}", "Deliveries read and waiting for a slot");

    public Counter<long> Tasks { get; }
    public Histogram<double> TaskDuration { get; }
    public UpDownCounter<long> ActiveTasks { get; }
    public UpDownCounter<long> BusySlots { get; }
    public Counter<long> Reclaims { get; }
    public Counter<long> DeadLetters { get; }

    public void Dispose() => _meter.Dispose();
}
