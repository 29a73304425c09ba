using System.Net;
using System.Net.Sockets;
using CellSeg.LoadGen.Topology;

namespace CellSeg.FunctionalTests;

public sealed class FreePortTests
{
    [Fact]
    public void PortsAreDistinctBindableAndBelowTheRangeForOutgoingConnections()
    {
        var range = File.ReadAllText("/proc/sys/net/ipv4/ip_local_port_range").Split((char[]?)null, StringSplitOptions.RemoveEmptyEntries);
        var ephemeralStart = int.Parse(range[0], System.Globalization.CultureInfo.InvariantCulture);

        var ports = Enumerable.Range(0, 50).Select(_ => FreePort.Next()).ToList();

        Assert.Equal(ports.Count, ports.Distinct().Count());
        Assert.All(ports, port => Assert.InRange(port, 10_000, ephemeralStart - 1));
        foreach (var port in ports)
        {
            using var listener = new TcpListener(IPAddress.Loopback, port);
            listener.Start();
        }
    }
}
