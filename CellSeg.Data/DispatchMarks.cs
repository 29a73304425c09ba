using System.Threading.Channels;
using Microsoft.Extensions.Hosting;
using Microsoft.Extensions.Logging;
using Npgsql;

namespace CellSeg.Data;

/// <summary>
/// Records in the background, many at a time, which queue epoch dispatched tasks went out in, so that a request
/// that has put its tasks on the queue does not wait for one more database write. A mark that is late or lost (the
/// process died) only means that the reconciler finds the task unmarked after its grace period and adds it to the
/// queue again, which is harmless: results are keyed by task.
/// </summary>
public sealed partial class DispatchMarks(NpgsqlDataSource dataSource, ILogger<DispatchMarks> logger) : BackgroundService
{
    /// <summary>
    /// Skips rows another transaction holds and returns the ones it marked. The marks of several requests go out in
    /// one transaction, one statement per request; a mark that waited for a worker's claim while holding rows of an
    /// earlier statement met the claim in a deadlock, which Postgres breaks only after a second: the e2e scenario
    /// showed the whole pipeline idle for that second. Skipped rows are marked on a later pass.
    /// </summary>
    private const string Sql = """
        UPDATE segmentation_tasks SET "DispatchEpoch" = $2, "DispatchedAt" = $3
        WHERE "Id" IN (SELECT "Id" FROM segmentation_tasks WHERE "Id" = ANY($1) AND "DispatchEpoch" IS NULL FOR UPDATE SKIP LOCKED)
        RETURNING "Id"
        """;

    /// <summary>Passes over skipped rows, 50 ms after the first and twice as long after each next: 1.55 s in all.</summary>
    private const int MaxPasses = 6;

    private static readonly TimeSpan s_firstRetryDelay = TimeSpan.FromMilliseconds(50);

    private readonly Channel<Mark> _marks = Channel.CreateUnbounded<Mark>(new UnboundedChannelOptions { SingleReader = true });

    /// <summary>The tasks went onto the queue in <paramref name="epoch"/> at <paramref name="at"/>.</summary>
    public void Add(IReadOnlyList<Guid> taskIds, string epoch, DateTimeOffset at) => _marks.Writer.TryWrite(new Mark([.. taskIds], epoch, at, Pass: 1));

    protected override async Task ExecuteAsync(CancellationToken stoppingToken)
    {
        var pending = new List<Mark>();
        try
        {
            // Whatever arrived while the previous write ran goes out in the next one.
            while (await _marks.Reader.WaitToReadAsync(stoppingToken))
            {
                await WriteAsync(Drain(pending), stoppingToken);
            }
        }
        catch (OperationCanceledException) when (stoppingToken.IsCancellationRequested)
        {
            await WriteAsync(Drain(pending), CancellationToken.None);
        }
    }

    private List<Mark> Drain(List<Mark> pending)
    {
        pending.Clear();
        while (_marks.Reader.TryRead(out var mark))
        {
            pending.Add(mark);
        }

        return pending;
    }

    private async Task WriteAsync(List<Mark> marks, CancellationToken cancellationToken)
    {
        if (marks.Count == 0)
        {
            return;
        }

        var skipped = new List<Mark>();
        try
        {
            await using var connection = await dataSource.OpenConnectionAsync(cancellationToken);
            await using var batch = new NpgsqlBatch(connection);
            foreach (var mark in marks)
            {
                var command = new NpgsqlBatchCommand(Sql);
                command.Parameters.Add(new NpgsqlParameter<Guid[]> { TypedValue = mark.TaskIds });
                command.Parameters.Add(new NpgsqlParameter<string> { TypedValue = mark.Epoch });
                command.Parameters.Add(new NpgsqlParameter<DateTimeOffset> { TypedValue = mark.At });
                batch.BatchCommands.Add(command);
            }

            await using (var reader = await batch.ExecuteReaderAsync(cancellationToken))
            {
                foreach (var mark in marks)
                {
                    var marked = new HashSet<Guid>();
                    while (await reader.ReadAsync(cancellationToken))
                    {
                        marked.Add(reader.GetGuid(0));
                    }

                    // Not marked: held by another transaction, or marked already (a second dispatch); the next
                    // pass's update leaves the latter alone.
                    if (marked.Count < mark.TaskIds.Length && mark.Pass < MaxPasses)
                    {
                        skipped.Add(mark with { TaskIds = [.. mark.TaskIds.Where(id => !marked.Contains(id))], Pass = mark.Pass + 1 });
                    }

                    await reader.NextResultAsync(cancellationToken);
                }
            }
        }
        catch (Exception ex) when (ex is NpgsqlException or TimeoutException)
        {
            LogNotMarked(logger, ex, marks.Sum(m => m.TaskIds.Length));
            return;
        }

        foreach (var mark in skipped)
        {
            _ = WriteAgainLaterAsync(mark, cancellationToken);
        }
    }

    /// <summary>Back on the channel after a delay, so that the marks of new requests do not wait behind it.</summary>
    private async Task WriteAgainLaterAsync(Mark mark, CancellationToken cancellationToken)
    {
        try
        {
            await Task.Delay(s_firstRetryDelay * (1 << (mark.Pass - 2)), cancellationToken);
            _marks.Writer.TryWrite(mark);
        }
        catch (OperationCanceledException)
        {
            // Stopping: the reconciler dispatches whatever stays unmarked.
        }
    }

    private sealed record Mark(Guid[] TaskIds, string Epoch, DateTimeOffset At, int Pass);

    [LoggerMessage(Level = LogLevel.Warning, Message = "{Count} dispatched task(s) could not be marked; the reconciler will dispatch them again")]
    private static partial void LogNotMarked(ILogger logger, Exception exception, int count);
}
