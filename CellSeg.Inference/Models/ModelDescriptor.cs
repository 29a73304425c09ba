using System.Text.Json;

namespace CellSeg.Inference.Models;

/// <summary>A model folder's <c>model.json</c>: what the service needs to feed the network and read its output.</summary>
public sealed record ModelDescriptor
{
    public required string Name { get; init; }
    public string? DisplayName { get; init; }
    public string Version { get; init; } = "1";
    public required int InputWidth { get; init; }
    public required int InputHeight { get; init; }
    public int Channels { get; init; } = 3;
    public required float[] Mean { get; init; }
    public required float[] Std { get; init; }

    /// <summary><c>probabilities</c> (sigmoid inside the network) or <c>logits</c>.</summary>
    public string OutputKind { get; init; } = "probabilities";

    public string InputName { get; init; } = "input";
    public string OutputName { get; init; } = "probabilities";
    public float DefaultThreshold { get; init; } = 0.5f;
    public int PreferredBatch { get; init; } = 1;
    public int MaxBatch { get; init; } = 1;
    public double CostPerImageMs { get; init; }

    private static readonly JsonSerializerOptions s_options = new(JsonSerializerDefaults.Web);

    public static ModelDescriptor Read(string path)
    {
        using var stream = File.OpenRead(path);
        var descriptor = JsonSerializer.Deserialize<ModelDescriptor>(stream, s_options)
            ?? throw new InvalidDataException($"{path} is empty.");
        if (descriptor.Mean.Length != descriptor.Channels || descriptor.Std.Length != descriptor.Channels)
        {
            throw new InvalidDataException($"{path}: mean and std need {descriptor.Channels} values each.");
        }

        if (descriptor.Std.Any(s => s <= 0))
        {
            throw new InvalidDataException($"{path}: std values must be positive.");
        }

        return descriptor;
    }
}
