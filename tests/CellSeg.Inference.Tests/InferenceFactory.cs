using CellSeg.LoadGen.Topology;
using Microsoft.AspNetCore.Hosting;
using Microsoft.AspNetCore.Mvc.Testing;
using Microsoft.Extensions.Configuration;

namespace CellSeg.Inference.Tests;

/// <summary>The Inference service in memory, serving the repository's models, with extra settings per test.</summary>
public sealed class InferenceFactory(IReadOnlyDictionary<string, string?>? settings = null) : WebApplicationFactory<InferenceTelemetry>
{
    protected override void ConfigureWebHost(IWebHostBuilder builder)
    {
        builder.UseEnvironment("Development");
        builder.ConfigureAppConfiguration((_, configuration) =>
        {
            configuration.AddInMemoryCollection(new Dictionary<string, string?>
            {
                ["Inference:ModelsPath"] = Path.Combine(RepositoryLayout.Root, "models"),
                ["Inference:Models:0"] = "hrnet",
            });
            if (settings is not null)
            {
                configuration.AddInMemoryCollection(settings);
            }
        });
    }

    /// <summary>A client once every configured model is loaded.</summary>
    public async Task<HttpClient> CreateReadyClientAsync(CancellationToken cancellationToken)
    {
        var client = CreateClient();
        var deadline = DateTime.UtcNow.AddSeconds(60);
        while (true)
        {
            using var response = await client.GetAsync("/health", cancellationToken);
            if (response.IsSuccessStatusCode)
            {
                return client;
            }

            if (DateTime.UtcNow > deadline)
            {
                throw new TimeoutException($"Inference was not ready: {await response.Content.ReadAsStringAsync(cancellationToken)}");
            }

            await Task.Delay(100, cancellationToken);
        }
    }
}
