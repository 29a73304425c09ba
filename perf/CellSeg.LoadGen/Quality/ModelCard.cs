using System.Text.Json;

namespace CellSeg.LoadGen.Quality;

/// <summary>
/// The part of a model folder's <c>model.json</c> that evaluation needs: how to feed the network, how to read it,
/// and the held-out figures the Python evaluator recorded.
/// </summary>
public sealed record ModelCard
{
    private static readonly JsonSerializerOptions s_json = new(JsonSerializerDefaults.Web);

    public required string Name { get; init; }

    public string File { get; init; } = "model.onnx";

    public required int InputWidth { get; init; }

    public required int InputHeight { get; init; }

    public int Channels { get; init; } = 3;

    public required float[] Mean { get; init; }

    public required float[] Std { get; init; }

    public string InputName { get; init; } = "input";

    public string OutputName { get; init; } = "probabilities";

    /// <summary><c>probabilities</c> (sigmoid inside the network) or <c>logits</c>.</summary>
    public string OutputKind { get; init; } = "probabilities";

    public float DefaultThreshold { get; init; } = 0.5f;

    /// <summary>The largest batch the model is served with.</summary>
    public int MaxBatch { get; init; } = 1;

    /// <summary>Written by <c>training/evaluate.py</c>; absent until a model has been evaluated.</summary>
    public PythonEvaluation? Evaluation { get; init; }

    public static ModelCard Read(string path)
    {
        using var stream = System.IO.File.OpenRead(path);
        var card = JsonSerializer.Deserialize<ModelCard>(stream, s_json)
            ?? throw new InvalidDataException($"{path} is empty.");
        if (card.Channels != 3 || card.Mean.Length != 3 || card.Std.Length != 3)
        {
            throw new InvalidDataException($"{path}: the service feeds RGB, so channels, mean and std must describe 3 channels.");
        }

        return card;
    }
}

/// <summary>The held-out figures of <c>training/evaluate.py</c> (torch, PIL resize, no post-processing).</summary>
public sealed record PythonEvaluation(int Images, double Iou, double Dice, double GlobalIou, double GlobalDice);
