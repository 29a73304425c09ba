namespace CellSeg.QueueWorker.Processing;

/// <summary>
/// Reads the whole response body inside the resilience pipeline. HttpClient would read it after every handler has
/// returned, where neither the attempt timeout nor the retry reaches: an instance that died or hung mid-body would
/// fail the task, or hold its slot, instead of the call moving to another instance.
/// </summary>
public sealed class ResponseBufferingHandler : DelegatingHandler
{
    protected override async Task<HttpResponseMessage> SendAsync(HttpRequestMessage request, CancellationToken cancellationToken)
    {
        var response = await base.SendAsync(request, cancellationToken);
        try
        {
            await response.Content.LoadIntoBufferAsync(cancellationToken);
            return response;
        }
        catch
        {
            response.Dispose();
            throw;
        }
    }
}
