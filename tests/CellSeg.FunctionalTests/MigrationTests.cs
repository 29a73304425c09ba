using CellSeg.Api;
using CellSeg.Data;
using Microsoft.EntityFrameworkCore;
using Microsoft.Extensions.DependencyInjection;
using Npgsql;

namespace CellSeg.FunctionalTests;

public sealed class MigrationTests(StoresFixture stores)
{
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
        await using var scope = first.Services.CreateAsyncScope();
        var known = scope.ServiceProvider.GetRequiredService<CellSegDbContext>().Database.GetMigrations().ToList();
        await using var connection = new NpgsqlConnection(database);
        await connection.OpenAsync(ct);
        await using var history = new NpgsqlCommand("""SELECT "MigrationId" FROM "__EFMigrationsHistory" ORDER BY 1""", connection);
        var applied = new List<string>();
        await using (var reader = await history.ExecuteReaderAsync(ct))
        {
            while (await reader.ReadAsync(ct))
            {
                applied.Add(reader.GetString(0));
            }
        }

        Assert.NotEmpty(known);
        Assert.Equal(known.Order(StringComparer.Ordinal), applied);
        foreach (var factory in new[] { first, second })
        {
            using var http = factory.CreateHttpClient();
            using var health = await http.GetAsync("/health", ct);
            Assert.True(health.IsSuccessStatusCode, $"{factory.Url} is not healthy after migrating.");
        }
    }
}
