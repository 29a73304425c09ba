using System.ComponentModel.DataAnnotations;
using CellSeg.Inference.Models;

namespace CellSeg.Inference;

public sealed class InferenceOptions
{
    public const string SectionName = "Inference";

    /// <summary>Folder of model folders (<c>&lt;name&gt;/model.onnx</c> + <c>model.json</c>); relative to the app's base directory.</summary>
    [Required]
    public string ModelsPath { get; set; } = "models";

    /// <summary>
    /// The models this instance serves (from configuration only: a default here would be appended to); it is ready
    /// once all of them are loaded.
    /// </summary>
    [MinLength(1)]
    public List<string> Models { get; set; } = [];

    /// <summary><c>cpu</c>, or <c>cuda</c> to request the CUDA execution provider (falls back to CPU).</summary>
    [RegularExpression("^(cpu|cuda)$")]
    public string Device { get; set; } = "cpu";

    public int CudaDeviceId { get; set; }

    /// <summary>
    /// ONNX Runtime intra-op threads per session. 0: one on CPU, where one executor per core with one thread each
    /// beats one executor using every core (see docs/benchmarks.md); ONNX Runtime's own choice on CUDA.
    /// </summary>
    [Range(0, 256)]
    public int IntraOpThreads { get; set; }

    /// <summary>
    /// On a CPU with fewer intra-op threads per session than cores, also keep a second session that uses every core,
    /// for an image that arrives while the model is otherwise idle: a lone request then takes one call's latency on
    /// all cores instead of running on one core.
    /// </summary>
    public bool LatencySession { get; set; } = true;

    /// <summary>
    /// Pin the latency session's threads (<see cref="LoneRunPinning"/>): on Linux, where this process may run on
    /// exactly as many CPUs as it counts; ignored elsewhere.
    /// </summary>
    public bool PinLoneRuns { get; set; } = true;

    [Range(1, long.MaxValue)]
    public long MaxImageBytes { get; set; } = 50L * 1024 * 1024;

    [Range(1, long.MaxValue)]
    public long MaxImagePixels { get; set; } = 100_000_000;
}
