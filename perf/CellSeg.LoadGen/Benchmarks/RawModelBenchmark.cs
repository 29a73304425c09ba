using System.Diagnostics;
using System.Text.Json;
using Microsoft.ML.OnnxRuntime;

namespace CellSeg.LoadGen.Benchmarks;

/// <summary>One point of the raw grid: images per network call, concurrent callers, ONNX Runtime intra-op threads.</summary>
public sealed record RawConfig(int Batch, int Executors, int IntraOpThreads)
{
    public override string ToString() => $"batch={Batch} executors={Executors} intra_op={IntraOpThreads}";
}

public sealed record RawMeasurement(RawConfig Config, double ImagesPerSecond);

/// <summary>
/// The model's best throughput calling ONNX Runtime directly, with no HTTP, decoding or post-processing: the ceiling
/// the service is measured against.
/// </summary>
public sealed class RawModelBenchmark(string modelFolder)
{
    private readonly ModelShape _shape = ModelShape.Read(Path.Combine(modelFolder, "model.json"));

    public ModelShape Shape => _shape;

    public IReadOnlyList<RawMeasurement> MeasureGrid(IReadOnlyList<int> batches, IReadOnlyList<int> executors, IReadOnlyList<int> intraOpThreads, TimeSpan perConfig)
    {
        var results = new List<RawMeasurement>();
        foreach (var intra in intraOpThreads)
        {
            using var session = CreateSession(intra);
            foreach (var batch in batches.Where(b => b <= _shape.MaxBatch))
            {
                foreach (var executorCount in executors)
                {
                    results.Add(new RawMeasurement(new RawConfig(batch, executorCount, intra), Measure(session, batch, executorCount, perConfig)));
                }
            }
        }

        return results;
    }

    /// <summary>The median time of one batch-1 call on an otherwise idle session using every core.</summary>
    public double SingleCallMilliseconds(int intraOpThreads, int calls = 30)
    {
        using var session = CreateSession(intraOpThreads);
        var input = _shape.Input(1);
        Run(session, input, 1);
        var times = new List<double>(calls);
        for (var i = 0; i < calls; i++)
        {
            var clock = Stopwatch.StartNew();
            Run(session, input, 1);
            times.Add(clock.Elapsed.TotalMilliseconds);
        }

        times.Sort();
        return times[times.Count / 2];
    }

    private double Measure(InferenceSession session, int batch, int executors, TimeSpan duration)
    {
        var input = _shape.Input(batch);
        Run(session, input, batch);
        var images = 0L;
        var clock = Stopwatch.StartNew();
        var loops = Enumerable.Range(0, executors).Select(_ => Task.Factory.StartNew(
            () =>
            {
                while (clock.Elapsed < duration)
                {
                    Run(session, input, batch);
                    Interlocked.Add(ref images, batch);
                }
            },
            TaskCreationOptions.LongRunning)).ToArray();
        Task.WaitAll(loops);
        return images / clock.Elapsed.TotalSeconds;
    }

    private void Run(InferenceSession session, float[] input, int batch)
    {
        using var value = OrtValue.CreateTensorValueFromMemory(input, [batch, _shape.Channels, _shape.Height, _shape.Width]);
        using var options = new RunOptions();
        using var outputs = session.Run(options, [_shape.InputName], [value], [_shape.OutputName]);
    }

    private InferenceSession CreateSession(int intraOpThreads)
    {
        using var options = new SessionOptions
        {
            GraphOptimizationLevel = GraphOptimizationLevel.ORT_ENABLE_ALL,
            ExecutionMode = ExecutionMode.ORT_SEQUENTIAL,
            IntraOpNumThreads = intraOpThreads,
        };
        return new InferenceSession(_shape.OnnxPath, options);
    }
}

/// <summary>What the benchmark needs from a model folder's model.json.</summary>
public sealed record ModelShape(string Name, string OnnxPath, int Width, int Height, int Channels, string InputName, string OutputName, int MaxBatch)
{
    public static ModelShape Read(string modelJson)
    {
        using var document = JsonDocument.Parse(File.ReadAllText(modelJson));
        var root = document.RootElement;
        return new ModelShape(
            root.GetProperty("name").GetString()!,
            Path.Combine(Path.GetDirectoryName(modelJson)!, "model.onnx"),
            root.GetProperty("inputWidth").GetInt32(),
            root.GetProperty("inputHeight").GetInt32(),
            root.GetProperty("channels").GetInt32(),
            root.GetProperty("inputName").GetString()!,
            root.GetProperty("outputName").GetString()!,
            root.GetProperty("maxBatch").GetInt32());
    }

    /// <summary>A deterministic, image-like input for <paramref name="batch"/> images.</summary>
    public float[] Input(int batch)
    {
        var input = new float[batch * Channels * Height * Width];
        var random = new Random(42);
        for (var i = 0; i < input.Length; i++)
        {
            input[i] = (float)((random.NextDouble() * 4) - 2);
        }

        return input;
    }
}
