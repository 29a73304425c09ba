using System.Net;
using Microsoft.AspNetCore.Hosting;
using Microsoft.AspNetCore.Mvc.Testing;
using Microsoft.Extensions.Configuration;
using CellSeg.LoadGen.Topology;

namespace CellSeg.FunctionalTests;

/// <summary>
/// One CellSeg service hosted in the test process on real Kestrel (so HttpClient calls between services carry
/// trace context like in production), configured with the keys the AppHost injects.
/// <typeparamref name="TMarker"/> is any type of the service's assembly.
/// </summary>
public sealed class ServiceFactory<TMarker> : WebApplicationFactory<TMarker> where TMarker : class
{
    private readonly IReadOnlyDictionary<string, string?> _settings;

    public ServiceFactory(IReadOnlyDictionary<string, string?> settings)
    {
        _settings = settings;
        Port = FreePort.Next();
        // An explicit endpoint rather than UseKestrel(port): the port overload rewrites the server addresses after
        // the app has started binding, a race that fails start-up now and then (dotnet/aspnetcore#67714).
        UseKestrel(kestrel => kestrel.Listen(IPAddress.Loopback, Port));
    }

    public int Port { get; }
    public Uri Url => new($"http://127.0.0.1:{Port}");

    protected override void ConfigureWebHost(IWebHostBuilder builder)
    {
        builder.UseEnvironment("Development");
        builder.ConfigureAppConfiguration((_, configuration) => configuration.AddInMemoryCollection(_settings));
    }

    /// <summary>A client for the real server, not the in-memory test server.</summary>
    public HttpClient CreateHttpClient() => new() { BaseAddress = Url, Timeout = TimeSpan.FromSeconds(60) };
}
