using Microsoft.ML.OnnxRuntime;

namespace CellSeg.Inference.Models;

/// <summary>
/// One InferenceSession per model, shared by every caller: <see cref="InferenceSession.Run(RunOptions, IReadOnlyCollection{string}, IReadOnlyCollection{OrtValue}, IReadOnlyCollection{string})"/>
/// is thread-safe.
/// </summary>
public sealed class LoadedModel(ModelDescriptor descriptor, InferenceSession session, string device) : IDisposable
{
    public ModelDescriptor Descriptor { get; } = descriptor;
    public string Device { get; } = device;

    /// <summary>Runs one batch laid out NCHW; returns the probability maps, one H×W plane per image.</summary>
    public float[] Run(float[] input, int batchSize, RunOptions? runOptions = null)
    {
        var d = Descriptor;
        long[] shape = [batchSize, d.Channels, d.InputHeight, d.InputWidth];
        using var inputValue = OrtValue.CreateTensorValueFromMemory(input, shape);
        using var options = runOptions is null ? new RunOptions() : null;
        using var outputs = session.Run(runOptions ?? options!, [d.InputName], [inputValue], [d.OutputName]);

        var result = outputs[0].GetTensorDataAsSpan<float>().ToArray();
        if (d.OutputKind == "logits")
        {
            for (var i = 0; i < result.Length; i++)
            {
                result[i] = 1f / (1f + MathF.Exp(-result[i]));
            }
        }

        return result;
    }

    public void Dispose() => session.Dispose();
}
