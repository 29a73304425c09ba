using System.Globalization;

namespace CellSeg.Inference.Models;

/// <summary>
/// Where a lone request's network call runs when the every-core session is pinned: the calling thread on
/// <see cref="CallerCpu"/> for the call, each of ONNX Runtime's own threads on one of the others. Unpinned, a Linux
/// scheduler could wake ONNX Runtime's thread on the CPU where the caller was already spinning for it, and the call
/// then waited for the next scheduler tick (up to 4 ms) with one core idle (docs/benchmarks.md).
/// </summary>
/// <param name="CallerCpu">The CPU the calling thread moves to for the call.</param>
/// <param name="ThreadCpus">One CPU for each of ONNX Runtime's own threads.</param>
public sealed record LoneRunPinning(int CallerCpu, IReadOnlyList<int> ThreadCpus)
{
    /// <summary>
    /// ONNX Runtime's <c>session.intra_op_thread_affinities</c> for <see cref="ThreadCpus"/>: one CPU per thread,
    /// numbered from 1.
    /// </summary>
    public string ThreadAffinities => string.Join(';', ThreadCpus.Select(cpu => (cpu + 1).ToString(CultureInfo.InvariantCulture)));

    /// <summary>
    /// The pinning for a session with a thread on every one of <paramref name="processorCount"/> CPUs, or
    /// <see langword="null"/> where this process does not own that many CPUs: it must be allowed on exactly that many
    /// (a container limited by CPU time rather than by a CPU set shares every CPU of the node with other processes).
    /// </summary>
    /// <param name="allowed">The CPUs this process may run on, in order (<see cref="CpuAffinity.Allowed"/>).</param>
    public static LoneRunPinning? Plan(IReadOnlyList<int> allowed, int processorCount)
    {
        ArgumentNullException.ThrowIfNull(allowed);
        return processorCount >= 2 && allowed.Count == processorCount
            ? new LoneRunPinning(allowed[0], [.. allowed.Skip(1)])
            : null;
    }
}
