using CellSeg.LoadGen.Topology;
using Npgsql;

[assembly: AssemblyFixture(typeof(CellSeg.FunctionalTests.StoresFixture))]

namespace CellSeg.FunctionalTests;

/// <summary>
/// One real Postgres and one real Redis for the whole test assembly, as processes on loopback in a temp folder.
/// Each test class takes a database and a stream of its own so classes run in parallel without sharing state.
/// </summary>
public sealed class StoresFixture : IAsyncLifetime
{
    private readonly string _folder = Path.Combine(Path.GetTempPath(), $"cellseg-tests-{Guid.NewGuid():N}");

    public PostgresServerProcess Postgres { get; private set; } = null!;
    public RedisServerProcess Redis { get; private set; } = null!;

    public async ValueTask InitializeAsync()
    {
        Postgres = await PostgresServerProcess.StartAsync(Path.Combine(_folder, "postgres"), [], TestContext.Current.CancellationToken);
        Redis = await RedisServerProcess.StartAsync(Path.Combine(_folder, "redis"), TestContext.Current.CancellationToken);
    }

    /// <summary>A new empty database on the shared server; the Api under test migrates it.</summary>
    public async Task<string> CreateDatabaseAsync(CancellationToken cancellationToken)
    {
        var name = $"cellseg_{Guid.NewGuid():N}";
        await using var connection = new NpgsqlConnection(Postgres.ConnectionString("postgres"));
        await connection.OpenAsync(cancellationToken);
        await using var create = new NpgsqlCommand($"CREATE DATABASE {name}", connection);
        await create.ExecuteNonQueryAsync(cancellationToken);
        return Postgres.ConnectionString(name);
    }

    public async ValueTask DisposeAsync()
    {
        await Redis.DisposeAsync();
        await Postgres.DisposeAsync();
        try
        {
            Directory.Delete(_folder, recursive: true);
        }
        catch (IOException)
        {
            // A server still flushing its log; the temp folder is cleaned by the OS.
        }
    }
}
