using System.Runtime.InteropServices;

namespace CellSeg.Inference.Models;

/// <summary>The calling thread's CPU affinity on Linux (<c>sched_getaffinity</c> and <c>sched_setaffinity</c>).</summary>
public static partial class CpuAffinity
{
    /// <summary>Bytes of a CPU mask: 1,024 CPUs, as glibc's <c>cpu_set_t</c>.</summary>
    public const int MaskBytes = 128;

    /// <summary>The CPUs the calling thread may run on; empty where the system cannot say (not Linux, or the call fails).</summary>
    public static IReadOnlyList<int> Allowed()
    {
        Span<byte> mask = stackalloc byte[MaskBytes];
        if (!TryGet(mask))
        {
            return [];
        }

        var cpus = new List<int>();
        for (var cpu = 0; cpu < MaskBytes * 8; cpu++)
        {
            if ((mask[cpu / 8] & (1 << (cpu % 8))) != 0)
            {
                cpus.Add(cpu);
            }
        }

        return cpus;
    }

    /// <summary>Reads the calling thread's mask into <paramref name="mask"/> (<see cref="MaskBytes"/> long).</summary>
    public static bool TryGet(Span<byte> mask) =>
        OperatingSystem.IsLinux() && mask.Length == MaskBytes && SchedGetAffinity(0, MaskBytes, mask) == 0;

    /// <summary>Restricts the calling thread to <paramref name="cpu"/>, moving it there if it runs elsewhere.</summary>
    public static bool TryPin(int cpu)
    {
        Span<byte> mask = stackalloc byte[MaskBytes];
        mask.Clear();
        mask[cpu / 8] = (byte)(1 << (cpu % 8));
        return TrySet(mask);
    }

    /// <summary>Gives the calling thread <paramref name="mask"/>, as read by <see cref="TryGet"/>.</summary>
    public static bool TrySet(ReadOnlySpan<byte> mask) =>
        OperatingSystem.IsLinux() && mask.Length == MaskBytes && SchedSetAffinity(0, MaskBytes, mask) == 0;

    [LibraryImport("libc", EntryPoint = "sched_getaffinity")]
    private static partial int SchedGetAffinity(int pid, nint size, Span<byte> mask);

    [LibraryImport("libc", EntryPoint = "sched_setaffinity")]
    private static partial int SchedSetAffinity(int pid, nint size, ReadOnlySpan<byte> mask);
}
