namespace CellSeg.QueueWorker.Scheduling;

/// <summary>What images must share to be segmented in one batch: the model and its parameters.</summary>
public sealed record BatchKey(string Model, float Threshold, bool DetectHoles);

/// <summary>One user's share of a batch.</summary>
public sealed record BatchChunk<T>(Guid User, IReadOnlyList<T> Items);

/// <summary>A batch of one <see cref="BatchKey"/>, at most the model's safe batch, made of the chunks of one or more users.</summary>
public sealed record ScheduledBatch<T>(BatchKey Key, int Priority, IReadOnlyList<BatchChunk<T>> Chunks)
{
    public IReadOnlyList<T> Items { get; } = [.. Chunks.SelectMany(c => c.Items)];
}

/// <summary>
/// Fair batch assembly over the work a worker holds. Higher priority levels go first. Within a level users take turns
/// by deficit round robin: each turn earns a quantum of one batch shared by the users waiting for that model and
/// parameters, so a batch is cut into one chunk per waiting user (eight users and a batch of eight: one image each)
/// and every waiting user's work advances at the same pace, however long its queue. A user alone gets whole batches.
/// No user holds more than <c>maxInFlightPerUser</c> batches' worth of images at once, so a large request cannot take
/// every slot. Pure policy: not thread-safe (the caller serialises), no I/O.
/// </summary>
public sealed class FairBatchScheduler<T>(Func<string, int> maxBatchForModel, int maxInFlightPerUser)
{
    private readonly Dictionary<Guid, UserQueue> _users = [];
    private readonly LinkedList<Guid> _turns = new();

    public int Count { get; private set; }

    /// <summary>Images of <paramref name="user"/> taken and not yet completed.</summary>
    public int InFlight(Guid user) => _users.TryGetValue(user, out var queue) ? queue.InFlight : 0;

    public void Add(Guid user, int priority, BatchKey key, T item)
    {
        if (!_users.TryGetValue(user, out var queue))
        {
            queue = new UserQueue();
            _users[user] = queue;
        }

        if (queue.Pending == 0)
        {
            // A user who had nothing waiting joins at the end of the round; an idle user keeps no credit.
            queue.Deficit = 0;
            _turns.AddLast(user);
        }

        queue.Add(priority, new Entry(key, item));
        Count++;
    }

    /// <summary>The next batch by priority and turn, or null when nothing is waiting for a user under the cap.</summary>
    public ScheduledBatch<T>? TryTake()
    {
        int? level = null;
        foreach (var user in _turns)
        {
            var queue = _users[user];
            if (Room(queue, queue.Head(queue.TopPriority).Key) > 0 && (level is null || queue.TopPriority > level))
            {
                level = queue.TopPriority;
            }
        }

        if (level is not { } priority)
        {
            return null;
        }

        // The first user in turn order at this level decides the model and parameters of the batch.
        var key = _turns.Select(user => _users[user]).First(q => q.TopPriority == priority && Room(q, q.Head(priority).Key) > 0).Head(priority).Key;
        var maxBatch = MaxBatch(key);
        var sharing = _turns.Count(user => Joins(_users[user], priority, key));
        var quantum = Math.Max(1, (maxBatch + sharing - 1) / sharing);

        var chunks = new Dictionary<Guid, List<T>>();
        var space = maxBatch;
        while (space > 0 && FirstJoining(priority, key) is { } node)
        {
            var user = node.Value;
            var queue = _users[user];
            // Credit left from a turn cut short by a full batch carries over, up to one batch.
            queue.Deficit = Math.Min(queue.Deficit + quantum, maxBatch);
            var items = queue.Take(priority, key, Math.Min(Math.Min(space, queue.Deficit), Room(queue, key)));
            queue.Deficit -= items.Count;
            queue.InFlight += items.Count;
            space -= items.Count;
            Count -= items.Count;
            if (chunks.TryGetValue(user, out var chunk))
            {
                chunk.AddRange(items);
            }
            else
            {
                chunks[user] = items;
            }

            // This user's turn is over: to the back of the round, or out of it when nothing is left.
            _turns.Remove(node);
            if (queue.Pending > 0)
            {
                _turns.AddLast(user);
            }
        }

        return new ScheduledBatch<T>(key, priority, [.. chunks.Select(c => new BatchChunk<T>(c.Key, c.Value))]);
    }

    /// <summary>A batch has finished: its chunks no longer count against their users' caps.</summary>
    public void Complete(ScheduledBatch<T> batch)
    {
        foreach (var chunk in batch.Chunks)
        {
            if (_users.TryGetValue(chunk.User, out var queue))
            {
                queue.InFlight = Math.Max(0, queue.InFlight - chunk.Items.Count);
                if (queue.InFlight == 0 && queue.Pending == 0)
                {
                    _users.Remove(chunk.User);
                }
            }
        }
    }

    /// <summary>Removes waiting items (cancelled work) and returns them.</summary>
    public IReadOnlyList<T> Remove(Func<T, bool> match)
    {
        var removed = new List<T>();
        foreach (var (user, queue) in _users.ToList())
        {
            removed.AddRange(queue.Remove(match));
            if (queue.Pending == 0)
            {
                _turns.Remove(user);
                if (queue.InFlight == 0)
                {
                    _users.Remove(user);
                }
            }
        }

        Count -= removed.Count;
        return removed;
    }

    private int MaxBatch(BatchKey key) => Math.Max(1, maxBatchForModel(key.Model));

    /// <summary>How many more images of <paramref name="key"/>'s model the user may have in flight.</summary>
    private int Room(UserQueue queue, BatchKey key) => (maxInFlightPerUser * MaxBatch(key)) - queue.InFlight;

    private bool Joins(UserQueue queue, int priority, BatchKey key) =>
        queue.TopPriority == priority && queue.Has(priority, key) && Room(queue, key) > 0;

    private LinkedListNode<Guid>? FirstJoining(int priority, BatchKey key)
    {
        for (var node = _turns.First; node is not null; node = node.Next)
        {
            if (Joins(_users[node.Value], priority, key))
            {
                return node;
            }
        }

        return null;
    }

    private sealed record Entry(BatchKey Key, T Item);

    private sealed class UserQueue
    {
        // Highest priority first.
        private readonly SortedDictionary<int, LinkedList<Entry>> _levels = new(Comparer<int>.Create((a, b) => b.CompareTo(a)));
        private readonly Dictionary<(int Priority, BatchKey Key), int> _counts = [];

        public int Pending { get; private set; }

        /// <summary>Images taken and not yet completed.</summary>
        public int InFlight { get; set; }

        public int Deficit { get; set; }

        public int TopPriority => _levels.First().Key;

        public bool Has(int priority, BatchKey key) => _counts.ContainsKey((priority, key));

        public void Add(int priority, Entry entry)
        {
            if (!_levels.TryGetValue(priority, out var level))
            {
                level = new LinkedList<Entry>();
                _levels[priority] = level;
            }

            level.AddLast(entry);
            _counts[(priority, entry.Key)] = _counts.GetValueOrDefault((priority, entry.Key)) + 1;
            Pending++;
        }

        public Entry Head(int priority) => _levels[priority].First!.Value;

        /// <summary>Up to <paramref name="count"/> items of <paramref name="key"/> in arrival order.</summary>
        public List<T> Take(int priority, BatchKey key, int count)
        {
            var level = _levels[priority];
            var taken = new List<T>(count);
            for (var node = level.First; node is not null && taken.Count < count;)
            {
                var next = node.Next;
                if (node.Value.Key == key)
                {
                    taken.Add(node.Value.Item);
                    Forget(priority, level, node);
                }

                node = next;
            }

            return taken;
        }

        public List<T> Remove(Func<T, bool> match)
        {
            var removed = new List<T>();
            foreach (var (priority, level) in _levels.ToList())
            {
                for (var node = level.First; node is not null;)
                {
                    var next = node.Next;
                    if (match(node.Value.Item))
                    {
                        removed.Add(node.Value.Item);
                        Forget(priority, level, node);
                    }

                    node = next;
                }
            }

            return removed;
        }

        private void Forget(int priority, LinkedList<Entry> level, LinkedListNode<Entry> node)
        {
            var count = _counts[(priority, node.Value.Key)] - 1;
            if (count == 0)
            {
                _counts.Remove((priority, node.Value.Key));
            }
            else
            {
                _counts[(priority, node.Value.Key)] = count;
            }

            level.Remove(node);
            if (level.Count == 0)
            {
                _levels.Remove(priority);
            }

            Pending--;
        }
    }
}
