using Microsoft.Extensions.Diagnostics.HealthChecks;

namespace CellSeg.Inference.Models;

/// <summary>Ready when every configured model is loaded; reports each model's state and device.</summary>
public sealed class ModelsHealthCheck(ModelRegistry registry) : IHealthCheck
{
    public Task<HealthCheckResult> CheckHealthAsync(HealthCheckContext context, CancellationToken cancellationToken = default)
    {
        var data = registry.Entries.ToDictionary(
            e => e.Name,
            e => (object)(e.State == ModelState.Ready ? $"ready on {e.Model!.Device}" : e.Error ?? e.State.ToString()));
        return Task.FromResult(registry.AllConfiguredReady
            ? HealthCheckResult.Healthy("All configured models are loaded.", data)
            : HealthCheckResult.Unhealthy("Not every configured model is loaded.", data: data));
    }
}
