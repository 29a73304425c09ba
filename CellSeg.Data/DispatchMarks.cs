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
    private const string Sql = """UPDATE segmentation_tasks SET "DispatchEpoch" = $2, "DispatchedAt" = $3 WHERE "Id" = ANY($1) AND "DispatchEpoch" IS NULL""";

    private readonly Channel<Mark> _marks = Channel.CreateUnbounded<Mark>(new UnboundedChannelOptions { SingleReader = true });

    /// <summary>The tasks went onto the queue in <paramref name="epoch"/> at <paramref name="at"/>.</summary>
    public void Add(IReadOnlyList<Guid> taskIds, string epoch, DateTimeOffset at) => _marks.Writer.TryWrite(new Mark([.. taskIds], epoch, at));

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

            await batch.ExecuteNonQueryAsync(cancellationToken);
        }
        catch (Exception ex) when (ex is NpgsqlException or TimeoutException)
        {
            LogNotMarked(logger, ex, marks.Sum(m => m.TaskIds.Length));
        }
    }

    private sealed record Mark(Guid[] TaskIds, string Epoch, DateTimeOffset At);

    [LoggerMessage(Level = LogLevel.Warning, Message = "{Count} dispatched task(s) could not be marked; the reconciler will dispatch them again")]
    private static partial void LogNotMarked(ILogger logger, Exception exception, int count);
}
