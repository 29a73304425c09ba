using System.Globalization;
using System.Net;
using System.Net.Sockets;

namespace CellSeg.LoadGen.Topology;

/// <summary>
/// Loopback ports for the servers a run or a test starts. A port is chosen some time before its server binds it, so it
/// is taken below the range the OS hands out for outgoing connections: a port the OS picked itself (port 0) could be
/// given to a connection's source port in between, and the bind then failed with "address already in use" (it happened
/// to a functional test's Api in a clean-clone CI run, with Npgsql, Redis and HTTP connections opening all the time).
/// </summary>
public static class FreePort
{
    private const int Lowest = 10_000;
    private static readonly HashSet<int> Given = [];
    private static readonly int EphemeralStart = EphemeralRangeStart();

    /// <summary>A loopback port nobody listens on right now, outside the ephemeral range, not given before here.</summary>
    public static int Next()
    {
        for (var attempt = 0; EphemeralStart > Lowest && attempt < 200; attempt++)
        {
            var port = Random.Shared.Next(Lowest, EphemeralStart);
            lock (Given)
            {
                if (!Given.Contains(port) && IsFree(port))
                {
                    Given.Add(port);
                    return port;
                }
            }
        }

        // No such range here (another OS, or a range starting low): let the OS choose.
        using var listener = new TcpListener(IPAddress.Loopback, 0);
        listener.Start();
        return ((IPEndPoint)listener.LocalEndpoint).Port;
    }

    private static bool IsFree(int port)
    {
        try
        {
            using var listener = new TcpListener(IPAddress.Loopback, port);
            listener.Start();
            return true;
        }
        catch (SocketException)
        {
            return false;
        }
    }

    /// <summary>The first port of Linux's ephemeral range (<c>ip_local_port_range</c>), or 0 where it cannot be read.</summary>
    private static int EphemeralRangeStart()
    {
        try
        {
            var range = File.ReadAllText("/proc/sys/net/ipv4/ip_local_port_range").Split((char[]?)null, StringSplitOptions.RemoveEmptyEntries);
            return range.Length == 2 && int.TryParse(range[0], NumberStyles.None, CultureInfo.InvariantCulture, out var start) ? start : 0;
        }
        catch (Exception ex) when (ex is IOException or UnauthorizedAccessException)
        {
            return 0;
        }
    }
}
