using System.Collections.Concurrent;

namespace CellSeg.Api.Realtime;

/// <summary>
/// The hub connections of this Api replica: whose they are and which projects they watch. The relay uses it to
/// send an event once per connection and to compute statistics only for users connected here.
/// </summary>
public sealed class SegmentationHubConnections
{
    private readonly ConcurrentDictionary<string, Connection> _connections = new(StringComparer.Ordinal);

    private sealed record Connection(Guid UserId, ConcurrentDictionary<Guid, byte> Projects);

    public void Connected(string connectionId, Guid userId) => _connections[connectionId] = new Connection(userId, new());

    public void Disconnected(string connectionId) => _connections.TryRemove(connectionId, out _);

    public void Watch(string connectionId, Guid projectId)
    {
        if (_connections.TryGetValue(connectionId, out var connection))
        {
            connection.Projects[projectId] = 0;
        }
    }

    public void Unwatch(string connectionId, Guid projectId)
    {
        if (_connections.TryGetValue(connectionId, out var connection))
        {
            connection.Projects.TryRemove(projectId, out _);
        }
    }

    /// <summary>The connections here that joined the project's group.</summary>
    public IReadOnlyList<string> WatchersOf(Guid projectId) =>
        [.. _connections.Where(c => c.Value.Projects.ContainsKey(projectId)).Select(c => c.Key)];

    public bool HasUser(Guid userId) => _connections.Values.Any(c => c.UserId == userId);
}
