using System.Diagnostics;
using System.Diagnostics.Metrics;

namespace CellSeg.Api;

/// <summary>The service's ActivitySource and Meter, both named "CellSeg.Api".</summary>
public sealed class ApiTelemetry : IDisposable
{
    public const string Name = "CellSeg.Api";

    public static readonly ActivitySource Source = new(Name);

    private readonly Meter _meter;

    public ApiTelemetry(IMeterFactory meterFactory)
    {
        _meter = meterFactory.Create(Name);
        ImagesUploaded = _meter.CreateCounter<long>("cellseg.api.images_uploaded", "{image}", "Images stored");
        UploadsRejected = _meter.CreateCounter<long>("cellseg.api.uploads_rejected", "{file}", "Files refused at upload");
        TasksQueued = _meter.CreateCounter<long>("cellseg.api.tasks_queued", "{task}", "Segmentation tasks created");
    }

    public Counter<long> ImagesUploaded { get; }
    public Counter<long> UploadsRejected { get; }
    public Counter<long> TasksQueued { get; }

    public void Dispose() => _meter.Dispose();
}
