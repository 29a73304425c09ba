namespace CellSeg.QueueWorker.Scheduling;

/// <summary>What images must share to be segmented in one batch: the model and its parameters.</summary>
public sealed record BatchKey(string Model, float Threshold, bool DetectHoles);

/// <summary>A batch taken for one user: items of one <see cref="BatchKey"/>, at most the model's safe batch.</summary>
public sealed record ScheduledBatch<T>(Guid User, BatchKey Key, int Priority, IReadOnlyList<T> Items);

/// <summary>
/// Fair batch assembly over the work a worker holds: higher priority levels first; within a level users take turns
/// by deficit round robin, earning one batch of images per turn, so a user with a thousand images waiting gets the
/// same share of batches as a user with ten; and no user holds more than <c>maxInFlightPerUser</c> batches at once.
/// Pure policy: not thread-safe (the caller serialises), no I/O.
/// </summary>
public sealed class FairBatchScheduler<T>(Func<string, int> maxBatchForModel, int maxInFlightPerUser)
{
    private readonly Dictionary<Guid, UserQueue> _users = [];
    private readonly LinkedList<Guid> _turns = new();

    public int Count { get; private set; }

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
            if (queue.InFlight < maxInFlightPerUser && (level is null || queue.TopPriority > level))
            {
                level = queue.TopPriority;
            }
        }

        if (level is not { } priority)
        {
            return null;
        }

        for (var node = _turns.First; node is not null; node = node.Next)
        {
            var queue = _users[node.Value];
            if (queue.InFlight >= maxInFlightPerUser || queue.TopPriority != priority)
            {
                continue;
            }

            var head = queue.Head(priority);
            var maxBatch = Math.Max(1, maxBatchForModel(head.Key.Model));
            // The quantum is one batch; credit left from a short batch carries over, up to one more batch.
            queue.Deficit = Math.Min(queue.Deficit + maxBatch, 2 * maxBatch);
            var items = queue.Take(priority, head.Key, Math.Min(maxBatch, queue.Deficit));
            queue.Deficit -= items.Count;
            queue.InFlight++;
            Count -= items.Count;

            // This user's turn is over: to the back of the round, or out of it when nothing is left.
            var user = node.Value;
            _turns.Remove(node);
            if (queue.Pending > 0)
            {
                _turns.AddLast(user);
            }

            return new ScheduledBatch<T>(user, head.Key, priority, items);
        }

        return null;
    }

    /// <summary>A batch taken for <paramref name="user"/> has finished, freeing one of the user's in-flight places.</summary>
    public void Complete(Guid user)
    {
        if (_users.TryGetValue(user, out var queue) && queue.InFlight > 0)
        {
            queue.InFlight--;
            if (queue.InFlight == 0 && queue.Pending == 0)
            {
                _users.Remove(user);
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

    private sealed record Entry(BatchKey Key, T Item);

    private sealed class UserQueue
    {
        // Highest priority first.
        private readonly SortedDictionary<int, LinkedList<Entry>> _levels = new(Comparer<int>.Create((a, b) => b.CompareTo(a)));

        public int Pending { get; private set; }
        public int InFlight { get; set; }
        public int Deficit { get; set; }

        public int TopPriority => _levels.First().Key;

        public void Add(int priority, Entry entry)
        {
            if (!_levels.TryGetValue(priority, out var level))
            {
                level = new LinkedList<Entry>();
                _levels[priority] = level;
            }

            level.AddLast(entry);
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
                    level.Remove(node);
                }

                node = next;
            }

            if (level.Count == 0)
            {
                _levels.Remove(priority);
            }

            Pending -= taken.Count;
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
                        level.Remove(node);
                    }

                    node = next;
                }

                if (level.Count == 0)
                {
                    _levels.Remove(priority);
                }
            }

            Pending -= removed.Count;
            return removed;
        }
    }
}
