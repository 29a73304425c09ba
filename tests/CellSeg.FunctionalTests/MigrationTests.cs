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

        Assert.Equal(0, await RunMigrateOnlyJobAsync(database));
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

    [Fact]
    public async Task ImageBytesAreStoredWithoutACompressionAttemptAndResultsWithLz4()
    {
        var ct = TestContext.Current.CancellationToken;
        var database = await stores.CreateDatabaseAsync(ct);
        Assert.Equal(0, await RunMigrateOnlyJobAsync(database));

        await using var connection = new NpgsqlConnection(database);
        await connection.OpenAsync(ct);
        // attstorage 'e': out of line, never compressed; attcompression 'l': lz4 (the test server is built with it).
        await using var columns = new NpgsqlCommand(
            """
            SELECT c.relname, a.attname, a.attstorage::text, a.attcompression::text
            FROM pg_attribute a JOIN pg_class c ON c.oid = a.attrelid
            WHERE (c.relname, a.attname) IN (('image_contents', 'Data'), ('segmentation_results', 'Objects'))
            ORDER BY 1
            """,
            connection);
        var found = new List<string>();
        await using (var reader = await columns.ExecuteReaderAsync(ct))
        {
            while (await reader.ReadAsync(ct))
            {
                found.Add($"{reader.GetString(0)}.{reader.GetString(1)} storage={reader.GetString(2)} compression={reader.GetString(3)}");
            }
        }

        Assert.Equal(["image_contents.Data storage=e compression=", "segmentation_results.Objects storage=x compression=l"], found);

        // Stored as sent: 64 KB of zeros, which pglz would shrink to almost nothing, keep their size.
        await using var stored = new NpgsqlCommand(
            """
            CREATE TEMP TABLE stored_contents (LIKE image_contents INCLUDING STORAGE);
            INSERT INTO stored_contents ("ImageId", "Data") VALUES (gen_random_uuid(), @data);
            SELECT pg_column_size("Data") FROM stored_contents;
            """,
            connection);
        stored.Parameters.AddWithValue("data", new byte[64 * 1024]);
        Assert.True((int)(await stored.ExecuteScalarAsync(ct))! >= 64 * 1024);
    }

    /// <summary>Runs the Api as the deployment's migrate job (<c>Database__MigrateOnly</c>); returns its exit code.</summary>
    private async Task<int> RunMigrateOnlyJobAsync(string database)
    {
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
        return await job.WaitForExitAsync(TimeSpan.FromSeconds(90));
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
