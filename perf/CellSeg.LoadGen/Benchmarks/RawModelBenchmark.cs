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

    /// <summary>A session on <paramref name="intraOpThreads"/> threads that times batch-1 calls, in as many blocks as the caller wants.</summary>
    public SingleCallTimer SingleCalls(int intraOpThreads) => new(this, CreateSession(intraOpThreads), Input(1));

    /// <summary>Times one batch-1 call after another on a session of its own.</summary>
    public sealed class SingleCallTimer : IDisposable
    {
        private readonly RawModelBenchmark _owner;
        private readonly InferenceSession _session;
        private readonly float[] _input;
        private readonly Stopwatch _clock = new();

        internal SingleCallTimer(RawModelBenchmark owner, InferenceSession session, float[] input)
        {
            (_owner, _session, _input) = (owner, session, input);
            // Not timed: ONNX Runtime's first call sets up its buffers.
            _owner.Run(_session, _input, 1);
        }

        /// <summary>Time spent in timed blocks so far.</summary>
        public TimeSpan Elapsed => _clock.Elapsed;

        /// <summary>Calls the network one call after another for <paramref name="block"/> (at least once), adding each call's milliseconds to <paramref name="times"/>.</summary>
        public void Time(TimeSpan block, List<double> times)
        {
            var end = _clock.Elapsed + block;
            _clock.Start();
            do
            {
                var call = Stopwatch.GetTimestamp();
                _owner.Run(_session, _input, 1);
                times.Add(Stopwatch.GetElapsedTime(call).TotalMilliseconds);
            }
            while (_clock.Elapsed < end);

            _clock.Stop();
        }

        public void Dispose() => _session.Dispose();
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
