using CellSeg.Data;
using CellSeg.Data.Model;
using CellSeg.Data.Queue;
using Microsoft.EntityFrameworkCore;
using Microsoft.Extensions.Options;
using Npgsql;

namespace CellSeg.QueueWorker.Processing;

/// <summary>
/// Keeps the queue in step with Postgres, the truth: dispatches tasks that were committed but never reached the
/// queue (the Api died between the two writes, or Redis was down) and tasks dispatched in an epoch the queue has
/// since lost (Redis flushed or restarted empty). One worker replica reconciles at a time.
/// </summary>
public sealed partial class TaskReconciler(
    IServiceProvider services,
    IServiceScopeFactory scopeFactory,
    ISegmentationQueue queue,
    NpgsqlDataSource dataSource,
    IOptions<SegmentationWorkerOptions> options,
    TimeProvider time,
    ILogger<TaskReconciler> logger) : BackgroundService
{
    // Any constant shared by the replicas; it names the reconciler's advisory lock.
    private const long AdvisoryLockKey = 0x43656C6C536567;
    private const int ChunkSize = 500;

    protected override async Task ExecuteAsync(CancellationToken stoppingToken)
    {
        await DatabaseSchema.WaitUntilCurrentAsync(services, logger, stoppingToken);
        var interval = TimeSpan.FromMilliseconds(options.Value.ReconcileIntervalMs);
        while (!stoppingToken.IsCancellationRequested)
        {
            try
            {
                var dispatched = await ReconcileOnceAsync(stoppingToken);
                if (dispatched > 0)
                {
                    LogDispatched(logger, dispatched);
                }
            }
            catch (Exception ex) when (ex is StackExchange.Redis.RedisException or NpgsqlException or TimeoutException or DbUpdateException)
            {
                LogUnavailable(logger, ex.Message);
            }

            await Task.Delay(interval, time, stoppingToken);
        }
    }

    /// <summary>Dispatches every task that should be on the queue and is not; returns how many.</summary>
    public async Task<int> ReconcileOnceAsync(CancellationToken cancellationToken)
    {
        await using var lockConnection = await dataSource.OpenConnectionAsync(cancellationToken);
        if (!await TryLockAsync(lockConnection, cancellationToken))
        {
            return 0;
        }

        try
        {
            var epoch = await queue.GetEpochAsync(cancellationToken);
            var total = 0;
            while (true)
            {
                await using var scope = scopeFactory.CreateAsyncScope();
                var db = scope.ServiceProvider.GetRequiredService<CellSegDbContext>();
                var dispatcher = scope.ServiceProvider.GetRequiredService<SegmentationTaskDispatcher>();
                var undispatchedBefore = time.GetUtcNow() - TimeSpan.FromMilliseconds(options.Value.DispatchGraceMs);
                var lost = await db.SegmentationTasks
                    .Where(t => t.Status == SegmentationTaskStatus.Queued || t.Status == SegmentationTaskStatus.Processing)
                    .Where(t => (t.DispatchEpoch == null && t.CreatedAt < undispatchedBefore) || (t.DispatchEpoch != null && t.DispatchEpoch != epoch))
                    .OrderByDescending(t => t.Priority).ThenBy(t => t.CreatedAt)
                    .Take(ChunkSize)
                    .ToListAsync(cancellationToken);
                foreach (var task in lost)
                {
                    await dispatcher.DispatchAsync(task, cancellationToken);
                }

                total += lost.Count;
                if (lost.Count < ChunkSize)
                {
                    return total;
                }
            }
        }
        finally
        {
            await using var unlock = new NpgsqlCommand("SELECT pg_advisory_unlock(@key)", lockConnection);
            unlock.Parameters.AddWithValue("key", AdvisoryLockKey);
            await unlock.ExecuteScalarAsync(CancellationToken.None);
        }
    }

    private static async Task<bool> TryLockAsync(NpgsqlConnection connection, CancellationToken cancellationToken)
    {
        await using var command = new NpgsqlCommand("SELECT pg_try_advisory_lock(@key)", connection);
        command.Parameters.AddWithValue("key", AdvisoryLockKey);
        return await command.ExecuteScalarAsync(cancellationToken) is true;
    }

    [LoggerMessage(Level = LogLevel.Warning, Message = "Dispatched {Count} task(s) the queue did not hold")]
    private static partial void LogDispatched(ILogger logger, int count);

    [LoggerMessage(Level = LogLevel.Warning, Message = "Reconciliation skipped: {Reason}")]
    private static partial void LogUnavailable(ILogger logger, string reason);
}
