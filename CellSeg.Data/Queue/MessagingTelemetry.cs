using System.Diagnostics;

namespace CellSeg.Data.Queue;

/// <summary>Spans around queue operations, in the "CellSeg.Messaging" source every service listens to.</summary>
public static class MessagingTelemetry
{
    public const string SourceName = "CellSeg.Messaging";

    public static readonly ActivitySource Source = new(SourceName);
}
