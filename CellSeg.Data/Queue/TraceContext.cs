using System.Diagnostics;

namespace CellSeg.Data.Queue;

/// <summary>Carries W3C trace context inside queue messages, so a task's spans across services share one trace.</summary>
public static class TraceContext
{
    public static (string? TraceParent, string? TraceState) Capture(Activity? activity)
    {
        if (activity is null)
        {
            return (null, null);
        }

        string? traceParent = null;
        string? traceState = null;
        DistributedContextPropagator.Current.Inject(activity, null, (_, name, value) =>
        {
            if (name == "traceparent")
            {
                traceParent = value;
            }
            else if (name == "tracestate")
            {
                traceState = value;
            }
        });
        return (traceParent, traceState);
    }

    public static ActivityContext Restore(string? traceParent, string? traceState) =>
        ActivityContext.TryParse(traceParent, traceState, isRemote: true, out var context) ? context : default;
}
