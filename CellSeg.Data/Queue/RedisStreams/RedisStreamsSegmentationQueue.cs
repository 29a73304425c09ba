using System.Diagnostics;
using System.Globalization;
using Microsoft.Extensions.Logging;
using Microsoft.Extensions.Options;
using StackExchange.Redis;

namespace CellSeg.Data.Queue.RedisStreams;

/// <summary>
/// The segmentation queue over one Redis stream with one consumer group. StackExchange.Redis cannot block on
/// XREADGROUP (it multiplexes one connection), so producers PUBLISH a signal after XADD and idle consumers wait
/// for it, with a bounded fallback poll in case a signal is missed.
/// </summary>
public sealed partial class RedisStreamsSegmentationQueue : ISegmentationQueue, ISegmentationQueueConsumer, IDisposable
{
    private readonly IConnectionMultiplexer _redis;
    private readonly SegmentationQueueOptions _options;
    private readonly ILogger<RedisStreamsSegmentationQueue> _logger;
    private readonly SemaphoreSlim _signal = new(0, 1);
    private readonly RedisKey _streamKey;
    private readonly RedisChannel _signalChannel;
    private readonly string _consumerName;
    private bool _groupReady;
    private bool _subscribed;

    public RedisStreamsSegmentationQueue(
        IConnectionMultiplexer redis,
        IOptions<SegmentationQueueOptions> options,
        ILogger<RedisStreamsSegmentationQueue> logger)
    {
        _redis = redis;
        _options = options.Value;
        _logger = logger;
        _streamKey = _options.StreamKey;
        _signalChannel = RedisChannel.Literal(_options.SignalChannel);
        _consumerName = _options.ConsumerName
            ?? $"{Environment.MachineName}-{Environment.ProcessId}-{Guid.NewGuid().ToString("N")[..8]}";
    }

    public async Task<string> EnqueueAsync(SegmentationWorkItem item, CancellationToken cancellationToken)
    {
        using var activity = MessagingTelemetry.Source.StartActivity($"{_options.StreamKey} publish", ActivityKind.Producer);
        activity?.SetTag("messaging.system", "redis");
        activity?.SetTag("messaging.destination.name", _options.StreamKey);
        activity?.SetTag("cellseg.task_id", item.TaskId);

        var (traceParent, traceState) = TraceContext.Capture(activity ?? Activity.Current);
        var message = item with { TraceParent = traceParent, TraceState = traceState };

        // One round trip: the epoch (created if Redis lost it) and the entry are read and written together.
        var transaction = _redis.GetDatabase().CreateTransaction();
        _ = transaction.StringSetAsync(_options.EpochKey, Guid.NewGuid().ToString("N"), when: When.NotExists);
        var epoch = transaction.StringGetAsync(_options.EpochKey);
        var id = transaction.StreamAddAsync(_streamKey, StreamEntryCodec.Encode(message));
        await transaction.ExecuteAsync();
        activity?.SetTag("messaging.message.id", (await id).ToString());
        await _redis.GetDatabase().PublishAsync(_signalChannel, RedisValue.EmptyString, CommandFlags.FireAndForget);
        return (await epoch).ToString();
    }

    public async Task<string> EnqueueManyAsync(IReadOnlyList<SegmentationWorkItem> items, CancellationToken cancellationToken)
    {
        using var activity = MessagingTelemetry.Source.StartActivity($"{_options.StreamKey} publish", ActivityKind.Producer);
        activity?.SetTag("messaging.system", "redis");
        activity?.SetTag("messaging.destination.name", _options.StreamKey);
        activity?.SetTag("messaging.batch.message_count", items.Count);
        // One round trip: every command goes out at once on the same connection, which Redis runs in order. The epoch
        // is read ahead of the entries, which is safe: if Redis loses them in between, the tasks carry an epoch that
        // is no longer current and the reconciler adds them again. The signal goes out after the entries.
        var (traceParent, traceState) = TraceContext.Capture(activity ?? Activity.Current);
        var db = _redis.GetDatabase();
        var epoch = ReadEpoch(db);
        var adds = items.Select(item => db.StreamAddAsync(
            _streamKey, StreamEntryCodec.Encode(item with { TraceParent = traceParent, TraceState = traceState }))).ToList();
        _ = db.PublishAsync(_signalChannel, RedisValue.EmptyString, CommandFlags.FireAndForget);
        await Task.WhenAll(adds);
        return (await epoch).ToString();
    }

    public async Task<string> GetEpochAsync(CancellationToken cancellationToken) => (await ReadEpoch(_redis.GetDatabase())).ToString();

    /// <summary>The epoch, created first if Redis lost it; both commands are sent together, in order.</summary>
    private Task<RedisValue> ReadEpoch(IDatabase db)
    {
        _ = db.StringSetAsync(_options.EpochKey, Guid.NewGuid().ToString("N"), when: When.NotExists, flags: CommandFlags.FireAndForget);
        return db.StringGetAsync(_options.EpochKey);
    }

    public async Task<IReadOnlyList<SegmentationDelivery>> ReadAsync(int maxCount, CancellationToken cancellationToken)
    {
        var db = _redis.GetDatabase();
        await EnsureGroupAsync(db);

        StreamEntry[] entries;
        try
        {
            entries = await db.StreamReadGroupAsync(_streamKey, _options.ConsumerGroup, _consumerName, ">", maxCount);
        }
        catch (RedisServerException ex) when (ex.Message.StartsWith("NOGROUP", StringComparison.Ordinal))
        {
            // The stream or group vanished (Redis restarted without persistence or was flushed): create it again.
            _groupReady = false;
            await EnsureGroupAsync(db);
            return [];
        }

        if (entries.Length == 0)
        {
            return [];
        }

        var deliveries = new List<SegmentationDelivery>(entries.Length);
        var malformed = new List<string>();
        foreach (var entry in entries)
        {
            if (StreamEntryCodec.TryDecode(entry.Values, out var item))
            {
                deliveries.Add(new SegmentationDelivery(entry.Id!, item));
            }
            else
            {
                LogMalformedEntry(_logger, entry.Id!, _options.StreamKey);
                malformed.Add(entry.Id!);
            }
        }

        if (malformed.Count > 0)
        {
            await AcknowledgeAsync(malformed, cancellationToken);
        }

        return deliveries;
    }

    public async Task AcknowledgeAsync(IReadOnlyCollection<string> deliveryIds, CancellationToken cancellationToken)
    {
        if (deliveryIds.Count == 0)
        {
            return;
        }

        var ids = deliveryIds.Select(id => (RedisValue)id).ToArray();
        var db = _redis.GetDatabase();
        // One consumer group reads this stream, so an acknowledged entry is finished and can leave the stream.
        var transaction = db.CreateTransaction();
        var acknowledged = transaction.StreamAcknowledgeAsync(_streamKey, _options.ConsumerGroup, ids);
        var deleted = transaction.StreamDeleteAsync(_streamKey, ids);
        await transaction.ExecuteAsync();
        try
        {
            await acknowledged;
            await deleted;
        }
        catch (RedisServerException ex) when (ex.Message.StartsWith("NOGROUP", StringComparison.Ordinal))
        {
            // Redis lost the stream since these were read: nothing is left to acknowledge.
            _groupReady = false;
        }
    }

    public async Task<IReadOnlyList<SegmentationDelivery>> ClaimAbandonedAsync(TimeSpan minIdle, int maxCount, CancellationToken cancellationToken)
    {
        var db = _redis.GetDatabase();
        await EnsureGroupAsync(db);
        StreamAutoClaimResult claimed;
        try
        {
            claimed = await db.StreamAutoClaimAsync(
                _streamKey, _options.ConsumerGroup, _consumerName, (long)minIdle.TotalMilliseconds, "0-0", maxCount);
        }
        catch (RedisServerException ex) when (ex.Message.StartsWith("NOGROUP", StringComparison.Ordinal))
        {
            _groupReady = false;
            return [];
        }

        var deliveries = new List<SegmentationDelivery>(claimed.ClaimedEntries.Length);
        foreach (var entry in claimed.ClaimedEntries)
        {
            if (StreamEntryCodec.TryDecode(entry.Values, out var item))
            {
                deliveries.Add(new SegmentationDelivery(entry.Id!, item));
            }
            else
            {
                LogMalformedEntry(_logger, entry.Id!, _options.StreamKey);
                await AcknowledgeAsync([entry.Id!], cancellationToken);
            }
        }

        return deliveries;
    }

    public async Task<QueueBacklog> GetBacklogAsync(CancellationToken cancellationToken)
    {
        var db = _redis.GetDatabase();
        await EnsureGroupAsync(db);
        try
        {
            var group = (await db.StreamGroupInfoAsync(_streamKey)).FirstOrDefault(g => g.Name == _options.ConsumerGroup);
            return new QueueBacklog(group.Lag ?? 0, group.PendingMessageCount);
        }
        catch (RedisServerException ex) when (ex.Message.Contains("no such key", StringComparison.OrdinalIgnoreCase))
        {
            // The stream is gone (Redis flushed): nothing waits, and the group is created again on the next read.
            _groupReady = false;
            return new QueueBacklog(0, 0);
        }
    }

    public async Task DeadLetterAsync(SegmentationDelivery delivery, string reason, CancellationToken cancellationToken)
    {
        var fields = StreamEntryCodec.Encode(delivery.Item).Append(new NameValueEntry("reason", reason)).ToArray();
        await _redis.GetDatabase().StreamAddAsync(_options.DeadLetterStreamKey, fields);
        await AcknowledgeAsync([delivery.DeliveryId], cancellationToken);
    }

    public async Task WaitForWorkAsync(TimeSpan maxWait, CancellationToken cancellationToken)
    {
        if (!_subscribed)
        {
            await _redis.GetSubscriber().SubscribeAsync(_signalChannel, (_, _) => Signal());
            _subscribed = true;
        }

        await _signal.WaitAsync(maxWait, cancellationToken);
    }

    public void Dispose() => _signal.Dispose();

    private void Signal()
    {
        if (_signal.CurrentCount == 0)
        {
            try
            {
                _signal.Release();
            }
            catch (SemaphoreFullException)
            {
                // Another signal won the race; one pending wake-up is enough.
            }
        }
    }

    private async Task EnsureGroupAsync(IDatabase db)
    {
        if (_groupReady)
        {
            return;
        }

        try
        {
            await db.StreamCreateConsumerGroupAsync(_streamKey, _options.ConsumerGroup, "0-0", createStream: true);
        }
        catch (RedisServerException ex) when (ex.Message.StartsWith("BUSYGROUP", StringComparison.Ordinal))
        {
            // Another worker created it first.
        }

        _groupReady = true;
    }

    [LoggerMessage(Level = LogLevel.Error, Message = "Dropped malformed entry {EntryId} of stream {Stream}")]
    private static partial void LogMalformedEntry(ILogger logger, string entryId, string stream);
}

/// <summary>The field layout of a work item in a stream entry.</summary>
internal static class StreamEntryCodec
{
    public static NameValueEntry[] Encode(SegmentationWorkItem item)
    {
        var fields = new List<NameValueEntry>(10)
        {
            new("task", item.TaskId.ToString("N")),
            new("image", item.ImageId.ToString("N")),
            new("project", item.ProjectId.ToString("N")),
            new("owner", item.OwnerId.ToString("N")),
            new("model", item.Model),
            new("threshold", item.Threshold.ToString("R", CultureInfo.InvariantCulture)),
            new("holes", item.DetectHoles ? "1" : "0"),
            new("priority", item.Priority.ToString(CultureInfo.InvariantCulture)),
        };
        if (item.TraceParent is not null)
        {
            fields.Add(new("traceparent", item.TraceParent));
        }

        if (item.TraceState is not null)
        {
            fields.Add(new("tracestate", item.TraceState));
        }

        return [.. fields];
    }

    public static bool TryDecode(NameValueEntry[] values, out SegmentationWorkItem item)
    {
        var map = values.ToDictionary(v => v.Name.ToString(), v => v.Value.ToString());
        item = null!;
        if (!TryGuid(map, "task", out var task) || !TryGuid(map, "image", out var image)
            || !TryGuid(map, "project", out var project) || !TryGuid(map, "owner", out var owner)
            || !map.TryGetValue("model", out var model) || string.IsNullOrEmpty(model)
            || !map.TryGetValue("threshold", out var thresholdText)
            || !float.TryParse(thresholdText, NumberStyles.Float, CultureInfo.InvariantCulture, out var threshold)
            || !map.TryGetValue("priority", out var priorityText)
            || !int.TryParse(priorityText, NumberStyles.Integer, CultureInfo.InvariantCulture, out var priority))
        {
            return false;
        }

        item = new SegmentationWorkItem(
            task, image, project, owner, model, threshold,
            DetectHoles: map.GetValueOrDefault("holes") != "0",
            priority,
            map.GetValueOrDefault("traceparent"),
            map.GetValueOrDefault("tracestate"));
        return true;
    }

    private static bool TryGuid(Dictionary<string, string> map, string name, out Guid value)
    {
        value = default;
        return map.TryGetValue(name, out var text) && Guid.TryParseExact(text, "N", out value);
    }
}
