using Microsoft.EntityFrameworkCore;
using Microsoft.Extensions.Configuration;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Hosting;
using Microsoft.Extensions.Logging;

namespace CellSeg.Data;

/// <summary>
/// Applies the EF Core migrations before the Api serves. Replicas that start together take turns on a Postgres
/// advisory lock, and each reads what is pending only once it holds the lock, so every migration is applied once
/// (EF Core's own migration lock did not stop two replicas applying the same migration: a test showed it). The
/// QueueWorker never migrates; it waits for the schema with <see cref="DatabaseSchema.WaitUntilCurrentAsync"/>.
/// </summary>
public sealed partial class DatabaseMigrationService(
    IServiceProvider services,
    IConfiguration configuration,
    IHostApplicationLifetime lifetime,
    ILogger<DatabaseMigrationService> logger) : IHostedService
{
    /// <summary>When true the process migrates and exits: the Kubernetes migration Job runs the Api image this way.</summary>
    public const string MigrateOnlyKey = "Database:MigrateOnly";

    // Any constant shared by the replicas; it names the migration lock.
    private const long AdvisoryLockKey = 0x43656C6C4D6967;

    public async Task StartAsync(CancellationToken cancellationToken)
    {
        await using var scope = services.CreateAsyncScope();
        var db = scope.ServiceProvider.GetRequiredService<CellSegDbContext>();
        await db.Database.OpenConnectionAsync(cancellationToken);
        try
        {
            // Session-level lock on the context's own connection, held until released below.
            await db.Database.ExecuteSqlAsync($"SELECT pg_advisory_lock({AdvisoryLockKey})", cancellationToken);
            var pending = (await db.Database.GetPendingMigrationsAsync(cancellationToken)).ToList();
            if (pending.Count > 0)
            {
                LogApplying(logger, pending.Count, pending[^1]);
                await db.Database.MigrateAsync(cancellationToken);
            }
        }
        finally
        {
            await db.Database.ExecuteSqlAsync($"SELECT pg_advisory_unlock({AdvisoryLockKey})", CancellationToken.None);
            await db.Database.CloseConnectionAsync();
        }

        if (configuration.GetValue<bool>(MigrateOnlyKey))
        {
            LogMigrateOnly(logger);
            // Stopping while the host still starts would fail the start; stop once it has started instead.
            lifetime.ApplicationStarted.Register(lifetime.StopApplication);
        }
    }

    public Task StopAsync(CancellationToken cancellationToken) => Task.CompletedTask;

    [LoggerMessage(Level = LogLevel.Information, Message = "Database migrated; stopping because Database:MigrateOnly is set")]
    private static partial void LogMigrateOnly(ILogger logger);

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
