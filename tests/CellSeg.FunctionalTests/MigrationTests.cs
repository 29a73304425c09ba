using CellSeg.Api;
using CellSeg.Data;
using Microsoft.EntityFrameworkCore;
using CellSeg.LoadGen.Topology;
using Npgsql;

namespace CellSeg.FunctionalTests;

public sealed class MigrationTests(StoresFixture stores)
{
    [Fact]
    public async Task MigrateOnlyRunMigratesTheDatabaseAndExits()
    {
        var ct = TestContext.Current.CancellationToken;
        var database = await stores.CreateDatabaseAsync(ct);
        await using var job = ServiceProcess.Create(
            $"migrate-{Guid.NewGuid():N}",
            "CellSeg.Api",
            new Dictionary<string, string>
            {
                ["ConnectionStrings__cellsegdb"] = database,
                ["ConnectionStrings__redis"] = stores.Redis.ConnectionString,
                ["Database__MigrateOnly"] = "true",
            },
            Path.Combine(Path.GetTempPath(), "cellseg-migrate-logs"));

        job.Start();

        Assert.Equal(0, await job.WaitForExitAsync(TimeSpan.FromSeconds(90)));
        Assert.Equal(KnownMigrations(), await AppliedMigrationsAsync(database, ct));
    }

    [Fact]
    public async Task ApiReplicasStartingTogetherApplyEachMigrationOnce()
    {
        var ct = TestContext.Current.CancellationToken;
        var database = await stores.CreateDatabaseAsync(ct);
        var settings = new Dictionary<string, string?>
        {
            ["ConnectionStrings:cellsegdb"] = database,
            ["ConnectionStrings:redis"] = stores.Redis.ConnectionString,
        };
        await using var first = new ServiceFactory<ApiTelemetry>(settings);
        await using var second = new ServiceFactory<ApiTelemetry>(settings);

        await Task.WhenAll(Task.Run(first.StartServer, ct), Task.Run(second.StartServer, ct));

        // Both started (neither crashed on a table the other had just created) and every migration is applied.
        Assert.Equal(KnownMigrations(), await AppliedMigrationsAsync(database, ct));
        foreach (var factory in new[] { first, second })
        {
            using var http = factory.CreateHttpClient();
            using var health = await http.GetAsync("/health", ct);
            Assert.True(health.IsSuccessStatusCode, $"{factory.Url} is not healthy after migrating.");
        }
    }

    private static List<string> KnownMigrations()
    {
        using var db = new CellSegDbContext(new DbContextOptionsBuilder<CellSegDbContext>().UseNpgsql("Host=unused").Options);
        var known = db.Database.GetMigrations().Order(StringComparer.Ordinal).ToList();
        Assert.NotEmpty(known);
        return known;
    }

    private static async Task<List<string>> AppliedMigrationsAsync(string database, CancellationToken ct)
    {
        await using var connection = new NpgsqlConnection(database);
        await connection.OpenAsync(ct);
        await using var history = new NpgsqlCommand("""SELECT "MigrationId" FROM "__EFMigrationsHistory" ORDER BY 1""", connection);
        var applied = new List<string>();
        await using var reader = await history.ExecuteReaderAsync(ct);
        while (await reader.ReadAsync(ct))
        {
            applied.Add(reader.GetString(0));
        }

        return applied;
    }
}
