using System.Net;
using Microsoft.Extensions.ServiceDiscovery;

namespace CellSeg.QueueWorker.Processing;

/// <summary>
/// Which instance of a service one attempt goes to: round-robin, except that an attempt of a request that already
/// failed goes to an instance that request has not tried yet while there is one. Plain round-robin shares its turn
/// among every request in flight, so a retry after an instance died would land on the dead instance again about
/// half the time with two instances.
/// </summary>
/// <remarks>The retry strategy sends the same message on every attempt, so the instances tried live in its options.</remarks>
public sealed class InstanceRotation
{
    private static readonly HttpRequestOptionsKey<HashSet<string>> s_tried = new("CellSeg.InstancesTried");

    private uint _turn;

    public ServiceEndpoint Next(IReadOnlyList<ServiceEndpoint> instances, HttpRequestMessage request)
    {
        ArgumentOutOfRangeException.ThrowIfZero(instances.Count);
        var count = (uint)instances.Count;
        var turn = Interlocked.Increment(ref _turn);
        if (!request.Options.TryGetValue(s_tried, out var tried))
        {
            tried = new HashSet<string>(StringComparer.Ordinal);
            request.Options.Set(s_tried, tried);
        }

        for (var offset = 0u; offset < count; offset++)
        {
            var candidate = instances[(int)((turn + offset) % count)];
            if (tried.Add(Key(candidate)))
            {
                return candidate;
            }
        }

        // This request failed on every instance once: another round.
        tried.Clear();
        var again = instances[(int)(turn % count)];
        tried.Add(Key(again));
        return again;
    }

    private static string Key(ServiceEndpoint instance) => instance.EndPoint.ToString() ?? "";
}

/// <summary>
/// Resolves the instances of the request's service (<c>http://inference</c> reads <c>services:inference:http:0..n</c>)
/// with Microsoft.Extensions.ServiceDiscovery, and sends each attempt to the one <see cref="InstanceRotation"/> picks.
/// It stands where the library's own discovery handler would, whose round-robin cannot be told which instances a
/// request has tried.
/// </summary>
public sealed class InstanceRoutingHandler(ServiceEndpointResolver resolver, InstanceRotation rotation) : DelegatingHandler
{
    protected override async Task<HttpResponseMessage> SendAsync(HttpRequestMessage request, CancellationToken cancellationToken)
    {
        var original = request.RequestUri ?? throw new InvalidOperationException("The request has no address.");
        var source = await resolver.GetEndpointsAsync(original.GetLeftPart(UriPartial.Authority), cancellationToken);
        if (source.Endpoints.Count == 0)
        {
            // Transient for the retry strategy: instances may appear (a Deployment scaling up from zero).
            throw new HttpRequestException($"No instance of '{original.Host}' is known.");
        }

        request.RequestUri = Address(original, rotation.Next(source.Endpoints, request).EndPoint);
        try
        {
            return await base.SendAsync(request, cancellationToken);
        }
        finally
        {
            request.RequestUri = original;
        }
    }

    private static Uri Address(Uri logical, EndPoint instance) => instance switch
    {
        UriEndPoint { Uri: var uri } => new UriBuilder(logical) { Scheme = uri.Scheme, Host = uri.Host, Port = uri.Port }.Uri,
        DnsEndPoint dns => new UriBuilder(logical) { Host = dns.Host, Port = dns.Port > 0 ? dns.Port : logical.Port }.Uri,
        IPEndPoint ip => new UriBuilder(logical) { Host = ip.Address.ToString(), Port = ip.Port }.Uri,
        _ => throw new InvalidOperationException($"Endpoints of type {instance.GetType().Name} are not supported."),
    };
}
