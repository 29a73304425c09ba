using System.Security.Cryptography;
using Microsoft.ML.OnnxRuntime;

namespace CellSeg.LoadGen.Quality;

/// <summary>
/// One model folder's network in an ONNX Runtime CPU session, fed NCHW and read back the way the Inference service
/// does (<c>LoadedModel</c>), so that figures measured here are the service's figures.
/// </summary>
public sealed class SegmentationNetwork : IDisposable
{
    private readonly InferenceSession _session;

    private SegmentationNetwork(string folder, ModelCard card, InferenceSession session)
    {
        Folder = folder;
        Card = card;
        _session = session;
    }

    public string Folder { get; }

    public ModelCard Card { get; }

    public string OnnxPath => Path.Combine(Folder, Card.File);

    public IReadOnlyDictionary<string, NodeMetadata> Inputs => _session.InputMetadata;

    public IReadOnlyDictionary<string, NodeMetadata> Outputs => _session.OutputMetadata;

    /// <summary>
    /// Loads <c>model.json</c> and the network it names. <paramref name="threads"/> caps ONNX Runtime's intra-op
    /// threads, for machines whose cores are shared; null leaves ONNX Runtime's own choice.
    /// </summary>
    public static SegmentationNetwork Load(string folder, int? threads = null)
    {
        var card = ModelCard.Read(Path.Combine(folder, "model.json"));
        using var options = new SessionOptions
        {
            GraphOptimizationLevel = GraphOptimizationLevel.ORT_ENABLE_ALL,
            ExecutionMode = ExecutionMode.ORT_SEQUENTIAL,
        };
        if (threads is { } count)
        {
            options.IntraOpNumThreads = count;
            options.InterOpNumThreads = 1;
        }

        var session = new InferenceSession(Path.Combine(folder, card.File), options);
        return new SegmentationNetwork(folder, card, session);
    }

    /// <summary>Runs <paramref name="batchSize"/> CHW inputs laid out one after the other; returns one map per input.</summary>
    public ProbabilityMaps Run(float[] input, int batchSize)
    {
        ArgumentNullException.ThrowIfNull(input);
        var card = Card;
        long[] shape = [batchSize, card.Channels, card.InputHeight, card.InputWidth];
        using var inputValue = OrtValue.CreateTensorValueFromMemory(input, shape);
        using var runOptions = new RunOptions();
        using var outputs = _session.Run(runOptions, [card.InputName], [inputValue], [card.OutputName]);

        var output = outputs[0];
        var outputShape = output.GetTensorTypeAndShape().Shape;
        if (outputShape.Length != 4 || outputShape[0] != batchSize || outputShape[1] != 1)
        {
            throw new InvalidDataException($"{card.Name}: expected output [{batchSize}, 1, H, W], got [{string.Join(", ", outputShape)}].");
        }

        var values = output.GetTensorDataAsSpan<float>().ToArray();
        if (card.OutputKind == "logits")
        {
            for (var i = 0; i < values.Length; i++)
            {
                values[i] = 1f / (1f + MathF.Exp(-values[i]));
            }
        }

        return new ProbabilityMaps(values, batchSize, (int)outputShape[3], (int)outputShape[2]);
    }

    /// <summary>SHA-256 of the ONNX file, so recorded figures can be tied to the exact network they were measured on.</summary>
    public string OnnxSha256()
    {
        using var stream = File.OpenRead(OnnxPath);
        return Convert.ToHexStringLower(SHA256.HashData(stream));
    }

    public void Dispose() => _session.Dispose();
}

/// <summary><paramref name="Count"/> row-major probability maps of <paramref name="Width"/> × <paramref name="Height"/>.</summary>
public sealed record ProbabilityMaps(float[] Values, int Count, int Width, int Height)
{
    public ReadOnlySpan<float> Map(int index) => Values.AsSpan(index * Width * Height, Width * Height);
}
