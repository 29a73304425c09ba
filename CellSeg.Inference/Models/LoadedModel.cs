using Microsoft.ML.OnnxRuntime;

namespace CellSeg.Inference.Models;

/// <summary>
/// A served model: its descriptor and the network that runs a batch. An ONNX Runtime session is shared by every
/// caller (running it is thread-safe); the built-in <c>noop</c> network answers without running anything.
/// </summary>
public sealed class LoadedModel : IDisposable
{
    private readonly InferenceSession? _session;
    private readonly InferenceSession? _latencySession;

    /// <param name="latencySession">Optional: the same network on every core, for a request that runs alone.</param>
    /// <param name="pinning">Where the latency session's threads are pinned, the caller's CPU among them.</param>
    public LoadedModel(ModelDescriptor descriptor, InferenceSession session, string device, InferenceSession? latencySession = null, LoneRunPinning? pinning = null)
    {
        Descriptor = descriptor;
        Device = device;
        _session = session;
        _latencySession = latencySession;
        Pinning = latencySession is null ? null : pinning;
    }

    private LoadedModel(ModelDescriptor descriptor, string device)
    {
        Descriptor = descriptor;
        Device = device;
    }

    public ModelDescriptor Descriptor { get; }
    public string Device { get; }

    /// <summary>Floats of one image's input tensor (C × H × W).</summary>
    public int InputLength => Descriptor.Channels * Descriptor.InputHeight * Descriptor.InputWidth;

    /// <summary>Floats of one image's probability map (H × W).</summary>
    public int OutputLength => Descriptor.InputHeight * Descriptor.InputWidth;

    /// <summary>
    /// The <c>noop</c> model, for measuring the queue and the service around a network: its "network" writes a
    /// fixed disc (one object per image) without reading the input. Served only where configured by name.
    /// </summary>
    public static LoadedModel NoOp() => new(
        new ModelDescriptor
        {
            Name = NoOpName,
            DisplayName = "No-op (diagnostic: no network)",
            Version = "1",
            InputWidth = 32,
            InputHeight = 32,
            Mean = [0f, 0f, 0f],
            Std = [1f, 1f, 1f],
            PreferredBatch = 32,
            MaxBatch = 64,
        },
        "none");

    public const string NoOpName = "noop";

    /// <summary>Whether a lone image can run on every core (see <see cref="InferenceOptions.LatencySession"/>).</summary>
    public bool HasLatencySession => _latencySession is not null;

    /// <summary>The CPUs a lone image's call is pinned to; <see langword="null"/> where it runs unpinned.</summary>
    public LoneRunPinning? Pinning { get; }

    /// <summary>
    /// Runs one batch laid out NCHW from <paramref name="input"/> and writes the probability maps, one H×W plane per
    /// image, into <paramref name="output"/>: both buffers belong to the caller, so a batch allocates nothing large.
    /// <paramref name="alone"/> runs it on the every-core session where there is one.
    /// </summary>
    public void Run(Memory<float> input, Memory<float> output, int batchSize, bool alone = false)
    {
        var d = Descriptor;
        var outputSlice = output[..(batchSize * OutputLength)];
        if (_session is null)
        {
            WriteDiscs(outputSlice.Span, d.InputWidth, d.InputHeight);
            return;
        }

        using var inputValue = OrtValue.CreateTensorValueFromMemory(
            OrtMemoryInfo.DefaultInstance, input[..(batchSize * InputLength)], [batchSize, d.Channels, d.InputHeight, d.InputWidth]);
        using var outputValue = OrtValue.CreateTensorValueFromMemory(
            OrtMemoryInfo.DefaultInstance, outputSlice, [batchSize, 1, d.InputHeight, d.InputWidth]);
        using var runOptions = new RunOptions();
        if (alone && _latencySession is not null)
        {
            RunAlone(_latencySession, runOptions, inputValue, outputValue);
        }
        else
        {
            _session.Run(runOptions, [d.InputName], [inputValue], [d.OutputName], [outputValue]);
        }

        if (d.OutputKind == "logits")
        {
            var span = outputSlice.Span;
            for (var i = 0; i < span.Length; i++)
            {
                span[i] = 1f / (1f + MathF.Exp(-span[i]));
            }
        }
    }

    /// <summary>
    /// Runs on the every-core session; where it is pinned, from the caller's own CPU, so that ONNX Runtime's threads
    /// never wait behind the calling thread. The thread gets its own CPUs back afterwards.
    /// </summary>
    private void RunAlone(InferenceSession session, RunOptions runOptions, OrtValue input, OrtValue output)
    {
        Span<byte> own = stackalloc byte[CpuAffinity.MaskBytes];
        var pinned = Pinning is not null && CpuAffinity.TryGet(own) && CpuAffinity.TryPin(Pinning.CallerCpu);
        try
        {
            session.Run(runOptions, [Descriptor.InputName], [input], [Descriptor.OutputName], [output]);
        }
        finally
        {
            if (pinned)
            {
                CpuAffinity.TrySet(own);
            }
        }
    }

    /// <summary>A centred disc of radius a quarter of the smaller side in every plane.</summary>
    private static void WriteDiscs(Span<float> planes, int width, int height)
    {
        var radius = Math.Min(width, height) / 4f;
        var plane = planes[..(width * height)];
        for (var y = 0; y < height; y++)
        {
            for (var x = 0; x < width; x++)
            {
                var dx = x + 0.5f - (width / 2f);
                var dy = y + 0.5f - (height / 2f);
                plane[(y * width) + x] = (dx * dx) + (dy * dy) <= radius * radius ? 1f : 0f;
            }
        }

        for (var offset = plane.Length; offset < planes.Length; offset += plane.Length)
        {
            plane.CopyTo(planes[offset..]);
        }
    }

    public void Dispose()
    {
        _session?.Dispose();
        _latencySession?.Dispose();
    }
}
