using CellSeg.LoadGen.Topology;
using Npgsql;

namespace CellSeg.FunctionalTests;

/// <summary>What the tests that run the topology as real processes (chaos, replicas) share.</summary>
internal static class TopologyTestSupport
{
    public static async Task<long> ScalarAsync(NpgsqlConnection connection, string sql, CancellationToken ct)
    {
        await using var command = new NpgsqlCommand(sql, connection);
        return (long)(await command.ExecuteScalarAsync(ct))!;
    }

    /// <summary>Stops every process of the topology, then removes its folder where this user may.</summary>
    public static async ValueTask StopAndDeleteAsync(LocalTopology topology, string folder)
    {
        await topology.DisposeAsync();
        try
        {
            Directory.Delete(folder, recursive: true);
        }
        catch (IOException)
        {
            // Left to the OS's temp cleaning.
        }
        catch (UnauthorizedAccessException)
        {
            // The Postgres folder belongs to the postgres user.
        }
    }
}
