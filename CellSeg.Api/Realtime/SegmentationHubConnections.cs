using System.Collections.Concurrent;

namespace CellSeg.Api.Realtime;

/// <summary>
/// The hub connections of this Api replica: whose they are and which projects they watch. The relay uses it to
/// send an event once per connection and to compute statistics only for users connected here.
/// </summary>
public sealed class SegmentationHubConnections
{
    private readonly ConcurrentDictionary<string, Connection> _connections = new(StringComparer.Ordinal);

    // Each event looks up its project here, so the watchers are indexed by project rather than found by a scan of
    // every connection.
    private readonly ConcurrentDictionary<Guid, ConcurrentDictionary<string, byte>> _watchers = new();

    // Joining and leaving are rare and change _watchers together with its sets; events only read.
    private readonly Lock _watching = new();

    private sealed record Connection(Guid UserId, ConcurrentDictionary<Guid, byte> Projects);

    public void Connected(string connectionId, Guid userId) => _connections[connectionId] = new Connection(userId, new());

    public void Disconnected(string connectionId)
    {
        if (_connections.TryRemove(connectionId, out var connection))
        {
            foreach (var projectId in connection.Projects.Keys)
            {
                RemoveWatcher(projectId, connectionId);
            }
        }
    }

    public void Watch(string connectionId, Guid projectId)
    {
        if (_connections.TryGetValue(connectionId, out var connection))
        {
            connection.Projects[projectId] = 0;
            lock (_watching)
            {
                _watchers.GetOrAdd(projectId, _ => new(StringComparer.Ordinal))[connectionId] = 0;
            }
        }
    }

    public void Unwatch(string connectionId, Guid projectId)
    {
        if (_connections.TryGetValue(connectionId, out var connection))
        {
            connection.Projects.TryRemove(projectId, out _);
        }

        RemoveWatcher(projectId, connectionId);
    }

    /// <summary>The connections here that joined the project's group.</summary>
    public IReadOnlyList<string> WatchersOf(Guid projectId) =>
        _watchers.TryGetValue(projectId, out var watchers) ? [.. watchers.Keys] : [];

    public bool HasUser(Guid userId) => _connections.Values.Any(c => c.UserId == userId);

    private void RemoveWatcher(Guid projectId, string connectionId)
    {
        lock (_watching)
        {
            if (_watchers.TryGetValue(projectId, out var watchers) && watchers.TryRemove(connectionId, out _) && watchers.IsEmpty)
            {
                _watchers.TryRemove(projectId, out _);
            }
        }
    }
}
