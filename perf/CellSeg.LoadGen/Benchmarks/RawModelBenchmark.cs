using System.Diagnostics;
using CellSeg.LoadGen.Quality;
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
    private readonly ModelCard _card = ModelCard.Read(Path.Combine(modelFolder, "model.json"));

    public ModelCard Card => _card;

    public IReadOnlyList<RawMeasurement> MeasureGrid(IReadOnlyList<int> batches, IReadOnlyList<int> executors, IReadOnlyList<int> intraOpThreads, TimeSpan perConfig)
    {
        var results = new List<RawMeasurement>();
        foreach (var intra in intraOpThreads)
        {
            using var session = CreateSession(intra);
            foreach (var batch in batches.Where(b => b <= _card.MaxBatch))
            {
                foreach (var executorCount in executors)
                {
                    results.Add(new RawMeasurement(new RawConfig(batch, executorCount, intra), Measure(session, batch, executorCount, perConfig)));
                }
            }
        }

        return results;
    }

    /// <summary>
    /// Median and 95th percentile of one batch-1 call, the service's one-client latency to compare with: calls one after
    /// another for <paramref name="duration"/> (at least 150), so that the percentile rests on as many calls as the
    /// service's point of the same length (a 95th percentile of 150 calls is their 8th slowest, and moved by up to 2 ms
    /// between runs).
    /// </summary>
    public (double MedianMs, double P95Ms) SingleCallMilliseconds(int intraOpThreads, TimeSpan duration)
    {
        using var session = CreateSession(intraOpThreads);
        var input = Input(1);
        Run(session, input, 1);
        var times = new List<double>();
        var clock = Stopwatch.StartNew();
        while (times.Count < 150 || clock.Elapsed < duration)
        {
            var call = Stopwatch.GetTimestamp();
            Run(session, input, 1);
            times.Add(Stopwatch.GetElapsedTime(call).TotalMilliseconds);
        }

        return (Statistics.Percentile([.. times], 0.50), Statistics.Percentile([.. times], 0.95));
    }

    private double Measure(InferenceSession session, int batch, int executors, TimeSpan duration)
    {
        var input = Input(batch);
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
        using var value = OrtValue.CreateTensorValueFromMemory(input, [batch, _card.Channels, _card.InputHeight, _card.InputWidth]);
        using var options = new RunOptions();
        using var outputs = session.Run(options, [_card.InputName], [value], [_card.OutputName]);
    }

    private InferenceSession CreateSession(int intraOpThreads)
    {
        using var options = new SessionOptions
        {
            GraphOptimizationLevel = GraphOptimizationLevel.ORT_ENABLE_ALL,
            ExecutionMode = ExecutionMode.ORT_SEQUENTIAL,
            IntraOpNumThreads = intraOpThreads,
        };
        return new InferenceSession(Path.Combine(modelFolder, _card.File), options);
    }

    /// <summary>A deterministic, image-like input for <paramref name="batch"/> images.</summary>
    private float[] Input(int batch)
    {
        var input = new float[batch * _card.Channels * _card.InputHeight * _card.InputWidth];
        var random = new Random(42);
        for (var i = 0; i < input.Length; i++)
        {
            input[i] = (float)((random.NextDouble() * 4) - 2);
        }

        return input;
    }
}
