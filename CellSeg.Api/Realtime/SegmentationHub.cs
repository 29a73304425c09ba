using CellSeg.Api.Apis;
using CellSeg.Data;
using Microsoft.AspNetCore.SignalR;

namespace CellSeg.Api.Realtime;

/// <summary>
/// Real-time segmentation updates. Every connection is in its user's group and receives the changes of all the
/// user's images; <see cref="JoinProject"/> adds a project's group, for clients that follow one project (today only
/// its owner may; sharing will widen it). Requires a signed-in user; browsers pass the bearer token as
/// <c>access_token</c> in the query string, since WebSockets cannot carry an Authorization header.
/// </summary>
public sealed class SegmentationHub(CellSegDbContext db, SegmentationHubConnections connections) : Hub<ISegmentationClient>
{
    public const string Path = "/hubs/segmentation";

    public static string UserGroup(Guid userId) => $"user:{userId}";

    public static string ProjectGroup(Guid projectId) => $"project:{projectId}";

    public override async Task OnConnectedAsync()
    {
        var userId = Context.User!.Id();
        await Groups.AddToGroupAsync(Context.ConnectionId, UserGroup(userId), Context.ConnectionAborted);
        connections.Connected(Context.ConnectionId, userId);
        // A client that just connected starts from the current numbers instead of waiting for the next change.
        await Clients.Caller.QueueStatisticsChanged(await SegmentationApi.ReadStatisticsAsync(db, userId, Context.ConnectionAborted));
        await base.OnConnectedAsync();
    }

    public override Task OnDisconnectedAsync(Exception? exception)
    {
        connections.Disconnected(Context.ConnectionId);
        return base.OnDisconnectedAsync(exception);
    }

    /// <summary>Adds the connection to the project's group; another user's project answers like a missing one.</summary>
    public async Task JoinProject(Guid projectId)
    {
        if (!await db.OwnsProjectAsync(Context.User!.Id(), projectId, Context.ConnectionAborted))
        {
            throw new HubException($"Not found: no project {projectId}.");
        }

        // Group first, then the registry: in between, an event arrives twice rather than not at all.
        await Groups.AddToGroupAsync(Context.ConnectionId, ProjectGroup(projectId), Context.ConnectionAborted);
        connections.Watch(Context.ConnectionId, projectId);
    }

    public async Task LeaveProject(Guid projectId)
    {
        connections.Unwatch(Context.ConnectionId, projectId);
        await Groups.RemoveFromGroupAsync(Context.ConnectionId, ProjectGroup(projectId), Context.ConnectionAborted);
    }
}

public static class SegmentationHubEndpoints
{
    public static IEndpointRouteBuilder MapSegmentationHub(this IEndpointRouteBuilder app)
    {
        app.MapHub<SegmentationHub>(SegmentationHub.Path).RequireAuthorization();
        return app;
    }
}
