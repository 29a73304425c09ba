using System.Globalization;

namespace CellSeg.LoadGen.Topology;

/// <summary>
/// CPU time used by each part of the local topology, read from <c>/proc</c>: the services by process id, Postgres
/// and Redis by command name (every Postgres backend is its own process), and this load generator. Two readings
/// around a run show where the machine's cores went.
/// </summary>
public static class CpuAccounting
{
    // USER_HZ: the unit of utime and stime in /proc/<pid>/stat, 100 on every Linux the project runs on.
    private const double TicksPerSecond = 100;

    /// <summary>CPU seconds so far per part (user + system), for the processes alive now.</summary>
    public static Dictionary<string, double> Read(LocalTopology topology)
    {
        var names = new Dictionary<int, string> { [Environment.ProcessId] = "loadgen" };
        foreach (var service in topology.Services)
        {
            if (service.ProcessId is { } pid)
            {
                names[pid] = service.Name;
            }
        }

        var seconds = new Dictionary<string, double>();
        foreach (var directory in Directory.EnumerateDirectories("/proc"))
        {
            if (!int.TryParse(Path.GetFileName(directory), NumberStyles.None, CultureInfo.InvariantCulture, out var pid) || ReadStat(pid) is not { } stat)
            {
                continue;
            }

            var part = names.GetValueOrDefault(pid) ?? stat.Command switch
            {
                "postgres" => "postgres",
                "redis-server" => "redis",
                _ => null,
            };
            if (part is not null)
            {
                seconds[part] = seconds.GetValueOrDefault(part) + stat.Seconds;
            }
        }

        return seconds;
    }

    private static (string Command, double Seconds)? ReadStat(int pid)
    {
        string text;
        try
        {
            text = File.ReadAllText($"/proc/{pid}/stat");
        }
        catch (IOException)
        {
            return null;
        }
        catch (UnauthorizedAccessException)
        {
            return null;
        }

        // "pid (comm) state ppid ...": the command may hold spaces and parentheses, so split after the last ')'.
        var open = text.IndexOf('(', StringComparison.Ordinal);
        var close = text.LastIndexOf(')');
        if (open < 0 || close < open)
        {
            return null;
        }

        var fields = text[(close + 2)..].Split(' ');
        // After the command: state is field 3 of the line, utime field 14 and stime field 15.
        var ticks = long.Parse(fields[11], CultureInfo.InvariantCulture) + long.Parse(fields[12], CultureInfo.InvariantCulture);
        return (text[(open + 1)..close], ticks / TicksPerSecond);
    }
}
