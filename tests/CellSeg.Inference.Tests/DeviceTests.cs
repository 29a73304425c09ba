using System.Net.Http.Json;
using System.Text.Json;

namespace CellSeg.Inference.Tests;

public sealed class DeviceTests
{
    [Fact]
    public async Task CudaRequestedWithoutTheGpuPackageFallsBackToCpuAndServes()
    {
        var ct = TestContext.Current.CancellationToken;
        await using var factory = new InferenceFactory(new Dictionary<string, string?> { ["Inference:Device"] = "cuda" });
        using var client = await factory.CreateReadyClientAsync(ct);

        var models = await client.GetFromJsonAsync<JsonElement>("/v1/models", ct);

        var hrnet = Assert.Single(models.EnumerateArray());
        Assert.Equal("ready", hrnet.GetProperty("state").GetString());
        Assert.Equal("cpu", hrnet.GetProperty("device").GetString());
        var health = await client.GetStringAsync("/health", ct);
        Assert.Contains("ready on cpu", health, StringComparison.Ordinal);
    }
}
