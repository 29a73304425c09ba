namespace CellSeg.Inference.Models;

/// <summary>Loads the configured models off the start-up path; <c>/health</c> stays unhealthy until they are ready.</summary>
public sealed class ModelLoader(ModelRegistry registry) : BackgroundService
{
    protected override Task ExecuteAsync(CancellationToken stoppingToken) =>
        Task.Run(registry.LoadConfigured, stoppingToken);
}
