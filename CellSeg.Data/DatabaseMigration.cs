using Microsoft.EntityFrameworkCore;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Hosting;
using Microsoft.Extensions.Logging;

namespace CellSeg.Data;

/// <summary>
/// Applies the EF Core migrations before the Api serves. EF Core holds a database-wide lock while it migrates,
/// so replicas that start together apply each migration once; the QueueWorker never migrates, it waits for the
/// schema with <see cref="DatabaseSchema.WaitUntilCurrentAsync"/>.
/// </summary>
public sealed partial class DatabaseMigrationService(IServiceProvider services, ILogger<DatabaseMigrationService> logger) : IHostedService
{
    public async Task StartAsync(CancellationToken cancellationToken)
    {
        await using var scope = services.CreateAsyncScope();
        var db = scope.ServiceProvider.GetRequiredService<CellSegDbContext>();
        var pending = (await db.Database.GetPendingMigrationsAsync(cancellationToken)).ToList();
        if (pending.Count > 0)
        {
            LogApplying(logger, pending.Count, pending[^1]);
            await db.Database.MigrateAsync(cancellationToken);
        }
    }

    public Task StopAsync(CancellationToken cancellationToken) => Task.CompletedTask;

    [LoggerMessage(Level = LogLevel.Information, Message = "Applying {Count} migration(s), up to {Migration}")]
    private static partial void LogApplying(ILogger logger, int count, string migration);
}

public static partial class DatabaseSchema
{
    /// <summary>Waits until every migration this build knows is applied (by the Api's migration step).</summary>
    public static async Task WaitUntilCurrentAsync(IServiceProvider services, ILogger logger, CancellationToken cancellationToken)
    {
        var delay = TimeSpan.FromMilliseconds(200);
        while (true)
        {
            try
            {
                await using var scope = services.CreateAsyncScope();
                var db = scope.ServiceProvider.GetRequiredService<CellSegDbContext>();
                if (!(await db.Database.GetPendingMigrationsAsync(cancellationToken)).Any())
                {
                    return;
                }

                LogWaiting(logger);
            }
            catch (Exception ex) when (ex is not OperationCanceledException)
            {
                LogUnreachable(logger, ex.Message);
            }

            await Task.Delay(delay, cancellationToken);
            delay = TimeSpan.FromMilliseconds(Math.Min(delay.TotalMilliseconds * 2, 5000));
        }
    }

    [LoggerMessage(Level = LogLevel.Information, Message = "Waiting for the database schema to be migrated")]
    private static partial void LogWaiting(ILogger logger);

    [LoggerMessage(Level = LogLevel.Warning, Message = "Database not reachable yet: {Reason}")]
    private static partial void LogUnreachable(ILogger logger, string reason);
}
