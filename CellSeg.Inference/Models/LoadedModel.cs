using Microsoft.ML.OnnxRuntime;

namespace CellSeg.Inference.Models;

/// <summary>
/// One InferenceSession per model, shared by every caller: running it is thread-safe.
/// </summary>
public sealed class LoadedModel(ModelDescriptor descriptor, InferenceSession session, string device) : IDisposable
{
    public ModelDescriptor Descriptor { get; } = descriptor;
    public string Device { get; } = device;

    /// <summary>Floats of one image's input tensor (C × H × W).</summary>
    public int InputLength => Descriptor.Channels * Descriptor.InputHeight * Descriptor.InputWidth;

    /// <summary>Floats of one image's probability map (H × W).</summary>
    public int OutputLength => Descriptor.InputHeight * Descriptor.InputWidth;

    /// <summary>
    /// Runs one batch laid out NCHW from <paramref name="input"/> and writes the probability maps, one H×W plane per
    /// image, into <paramref name="output"/>: both buffers belong to the caller, so a batch allocates nothing large.
    /// </summary>
    public void Run(Memory<float> input, Memory<float> output, int batchSize)
    {
        var d = Descriptor;
        using var inputValue = OrtValue.CreateTensorValueFromMemory(
            OrtMemoryInfo.DefaultInstance, input[..(batchSize * InputLength)], [batchSize, d.Channels, d.InputHeight, d.InputWidth]);
        var outputSlice = output[..(batchSize * OutputLength)];
        using var outputValue = OrtValue.CreateTensorValueFromMemory(
            OrtMemoryInfo.DefaultInstance, outputSlice, [batchSize, 1, d.InputHeight, d.InputWidth]);
        using var runOptions = new RunOptions();
        session.Run(runOptions, [d.InputName], [inputValue], [d.OutputName], [outputValue]);

        if (d.OutputKind == "logits")
        {
            var span = outputSlice.Span;
            for (var i = 0; i < span.Length; i++)
            {
                span[i] = 1f / (1f + MathF.Exp(-span[i]));
            }
        }
    }

    public void Dispose() => session.Dispose();
}
