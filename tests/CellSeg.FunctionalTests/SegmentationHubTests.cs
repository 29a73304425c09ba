using System.Collections.Concurrent;
using System.Net;
using System.Net.Http.Json;
using CellSeg.LoadGen;
using Microsoft.AspNetCore.Http.Connections;
using Microsoft.AspNetCore.SignalR;
using Microsoft.AspNetCore.SignalR.Client;

namespace CellSeg.FunctionalTests;

/// <summary>
/// The real-time channel: a SignalR client signed in with its bearer token hears every state change of its own
/// images in order, and nothing of anybody else's, from whichever Api replica it is connected to.
/// </summary>
public sealed class SegmentationHubTests(StoresFixture stores) : IAsyncLifetime
{
    private static readonly TimeSpan SegmentationTimeout = TimeSpan.FromSeconds(120);

    private CellSegStack _stack = null!;

    public async ValueTask InitializeAsync()
    {
        var ct = TestContext.Current.CancellationToken;
        _stack = await CellSegStack.StartAsync(await stores.CreateDatabaseAsync(ct), stores.Redis.ConnectionString, ct);
    }

    public sealed record StatusChange(Guid ImageId, Guid ProjectId, Guid TaskId, string Status, string? Error, int? ObjectCount, DateTimeOffset At);

    public sealed record Completion(Guid ImageId, Guid ProjectId, Guid TaskId, bool Segmented, int? ObjectCount, string? Error);

    public sealed record TaskCounts(int Queued, int Processing, int Completed, int Failed, int Cancelled);

    public sealed record Statistics(TaskCounts Mine, int QueuedOverall, int ProcessingOverall);

    [Fact]
    public async Task EachUserHearsTheStateChangesOfOwnImagesInOrderAndNoneOfAnotherUsers()
    {
        var ct = TestContext.Current.CancellationToken;
        var alice = await _stack.SignInAsync("hub-alice@cellseg.test", ct);
        var bob = await _stack.SignInAsync("hub-bob@cellseg.test", ct);
        await using var aliceHears = await Listener.ConnectAsync(_stack.Api.Url, alice, ct);
        await using var bobHears = await Listener.ConnectAsync(_stack.Api.Url, bob, ct);
        var (aliceProject, aliceImages) = await UploadAsync(alice, "Alice's spheroids", ct);
        var (bobProject, bobImages) = await UploadAsync(bob, "Bob's spheroids", ct);

        // Both at once, so that their events interleave on the bus.
        await Task.WhenAll(
            alice.RequestBatchSegmentationAsync(aliceProject, aliceImages, "hrnet", ct),
            bob.RequestBatchSegmentationAsync(bobProject, bobImages, "hrnet", ct));
        await aliceHears.WaitForOutcomesAsync(aliceImages);
        await bobHears.WaitForOutcomesAsync(bobImages);
        // The statistics follow within a second (both tasks done, none waiting); by then every message of the
        // segmentations has been delivered, so a message sent to the wrong user would be in the lists.
        foreach (var hears in new[] { aliceHears, bobHears })
        {
            await CellSegStack.WaitUntilAsync(
                () => Task.FromResult(hears.Statistics.Any(s => s.Mine is { Completed: 2, Queued: 0, Processing: 0 })),
                TimeSpan.FromSeconds(10),
                "statistics counting both completed tasks");
        }

        foreach (var (client, hears, project, images) in new[] { (alice, aliceHears, aliceProject, aliceImages), (bob, bobHears, bobProject, bobImages) })
        {
            Assert.Equal(images.Order(), hears.Changes.Select(c => c.ImageId).Distinct().Order());
            Assert.All(hears.Changes, c => Assert.Equal(project, c.ProjectId));
            foreach (var image in images)
            {
                var changes = hears.Changes.Where(c => c.ImageId == image).ToList();
                Assert.Equal(["queued", "processing", "segmented"], changes.Select(c => c.Status));
                Assert.Single(changes.Select(c => c.TaskId).Distinct());
                var objectCount = (await client.GetResultAsync(image, ct)).ObjectCount;
                Assert.Equal(objectCount, changes[^1].ObjectCount);
                var completion = Assert.Single(hears.Completions, c => c.ImageId == image);
                Assert.Equal((true, (int?)objectCount, (string?)null), (completion.Segmented, completion.ObjectCount, completion.Error));
            }

            Assert.Equal(images.Order(), hears.Completions.Select(c => c.ImageId).Order());
        }
    }

    [Fact]
    public async Task JoiningAnotherUsersProjectFailsAndJoinsNothing()
    {
        var ct = TestContext.Current.CancellationToken;
        var owner = await _stack.SignInAsync("hub-owner@cellseg.test", ct);
        var intruder = await _stack.SignInAsync("hub-intruder@cellseg.test", ct);
        await using var ownerHears = await Listener.ConnectAsync(_stack.Api.Url, owner, ct);
        await using var intruderHears = await Listener.ConnectAsync(_stack.Api.Url, intruder, ct);
        var (project, images) = await UploadAsync(owner, "Watched", ct);

        var refused = await Assert.ThrowsAsync<HubException>(() => intruderHears.Connection.InvokeAsync("JoinProject", project, ct));
        var missing = await Assert.ThrowsAsync<HubException>(() => intruderHears.Connection.InvokeAsync("JoinProject", Guid.NewGuid(), ct));
        Assert.Contains($"Not found: no project {project}.", refused.Message, StringComparison.Ordinal);
        Assert.Contains("Not found: no project", missing.Message, StringComparison.Ordinal);

        // The owner's connection is in both the user's and the project's group, and still hears each change once.
        await ownerHears.Connection.InvokeAsync("JoinProject", project, ct);
        await owner.RequestBatchSegmentationAsync(project, [images[0]], "hrnet", ct);
        await ownerHears.WaitForOutcomesAsync([images[0]]);

        // After leaving the project it hears its images through the user's group alone, still once each.
        await ownerHears.Connection.InvokeAsync("LeaveProject", project, ct);
        await owner.RequestBatchSegmentationAsync(project, [images[1]], "hrnet", ct);
        await ownerHears.WaitForOutcomesAsync([images[1]]);

        // Messages reach a connection in the order they were sent, so any duplicate of the first image's changes
        // has arrived before the second image's last change.
        Assert.Equal(["queued", "processing", "segmented"], ownerHears.Changes.Where(c => c.ImageId == images[0]).Select(c => c.Status));
        Assert.Equal(["queued", "processing", "segmented"], ownerHears.Changes.Where(c => c.ImageId == images[1]).Select(c => c.Status));
        Assert.Equal(images, ownerHears.Completions.Select(c => c.ImageId));

        Assert.Empty(intruderHears.Changes);
        Assert.Empty(intruderHears.Completions);
        Assert.All(intruderHears.Statistics, s => Assert.Equal(new TaskCounts(0, 0, 0, 0, 0), s.Mine));
    }

    [Fact]
    public async Task TheHubTakesTheTokenFromTheQueryStringAndNothingElseDoes()
    {
        var ct = TestContext.Current.CancellationToken;
        var user = await _stack.SignInAsync("hub-query@cellseg.test", ct);
        var token = user.Http.DefaultRequestHeaders.Authorization!.Parameter!;
        using var anonymous = _stack.Api.CreateHttpClient();

        using (var withoutToken = await anonymous.PostAsync("/hubs/segmentation/negotiate?negotiateVersion=1", null, ct))
        {
            Assert.Equal(HttpStatusCode.Unauthorized, withoutToken.StatusCode);
        }

        using (var withQueryToken = await anonymous.PostAsync($"/hubs/segmentation/negotiate?negotiateVersion=1&access_token={token}", null, ct))
        {
            Assert.Equal(HttpStatusCode.OK, withQueryToken.StatusCode);
            Assert.Contains("connectionToken", await withQueryToken.Content.ReadAsStringAsync(ct), StringComparison.Ordinal);
        }

        using (var api = await anonymous.GetAsync($"/api/projects?access_token={token}", ct))
        {
            Assert.Equal(HttpStatusCode.Unauthorized, api.StatusCode);
        }

        // A browser-like client: WebSockets with the token only in the URL.
        var connection = new HubConnectionBuilder()
            .WithUrl(new Uri(_stack.Api.Url, $"/hubs/segmentation?access_token={token}"), HttpTransportType.WebSockets)
            .Build();
        await using var hears = await Listener.StartAsync(connection, ct);
        var (project, images) = await UploadAsync(user, "Query token", ct);
        await user.RequestBatchSegmentationAsync(project, [images[0]], "hrnet", ct);
        await hears.WaitForOutcomesAsync([images[0]]);
        Assert.Equal(["queued", "processing", "segmented"], hears.Changes.Select(c => c.Status));
    }

    [Fact]
    public async Task EveryApiReplicaRelaysTheEventsToItsOwnConnections()
    {
        var ct = TestContext.Current.CancellationToken;
        await using var replica = await _stack.StartApiReplicaAsync(ct);
        var user = await _stack.SignInAsync("hub-replica@cellseg.test", ct);
        await using var hears = await Listener.ConnectAsync(replica.Url, user, ct);
        var (project, images) = await UploadAsync(user, "Two replicas", ct);

        // Requested through the first replica, heard through the second: no backplane, each replica subscribes itself.
        await user.RequestBatchSegmentationAsync(project, [images[0]], "hrnet", ct);
        await hears.WaitForOutcomesAsync([images[0]]);

        Assert.Equal(["queued", "processing", "segmented"], hears.Changes.Select(c => c.Status));
    }

    private static async Task<(Guid Project, Guid[] Images)> UploadAsync(CellSegApiClient client, string name, CancellationToken ct)
    {
        var project = await client.CreateProjectAsync(name, ct);
        var upload = await client.UploadAsync(
            project.Id,
            [
                ("single-spheroid.png", await File.ReadAllBytesAsync(ProjectsApiTests.Asset("single-spheroid.png"), ct)),
                ("ring-spheroid.png", await File.ReadAllBytesAsync(ProjectsApiTests.Asset("ring-spheroid.png"), ct)),
            ],
            ct);
        return (project.Id, [.. upload.Images.Select(i => i.Id)]);
    }

    /// <summary>A hub connection and everything it hears.</summary>
    private sealed class Listener : IAsyncDisposable
    {
        private readonly ConcurrentQueue<StatusChange> _changes = new();
        private readonly ConcurrentQueue<Completion> _completions = new();
        private readonly ConcurrentQueue<Statistics> _statistics = new();

        private Listener(HubConnection connection)
        {
            Connection = connection;
            connection.On<StatusChange>("ImageStatusChanged", _changes.Enqueue);
            connection.On<Completion>("ImageCompleted", _completions.Enqueue);
            connection.On<Statistics>("QueueStatisticsChanged", _statistics.Enqueue);
        }

        public HubConnection Connection { get; }
        public IReadOnlyList<StatusChange> Changes => [.. _changes];
        public IReadOnlyList<Completion> Completions => [.. _completions];
        public IReadOnlyList<Statistics> Statistics => [.. _statistics];

        /// <summary>Connects with the client's bearer token, as the .NET client sends it (a header).</summary>
        public static Task<Listener> ConnectAsync(Uri api, CellSegApiClient client, CancellationToken ct)
        {
            var token = client.Http.DefaultRequestHeaders.Authorization!.Parameter!;
            var connection = new HubConnectionBuilder()
                .WithUrl(new Uri(api, "/hubs/segmentation"), options => options.AccessTokenProvider = () => Task.FromResult<string?>(token))
                .Build();
            return StartAsync(connection, ct);
        }

        /// <summary>
        /// Starts the connection and waits for the statistics the hub sends once the connection is in its user's
        /// group, so nothing the test does afterwards can go unheard.
        /// </summary>
        public static async Task<Listener> StartAsync(HubConnection connection, CancellationToken ct)
        {
            var listener = new Listener(connection);
            await connection.StartAsync(ct);
            await CellSegStack.WaitUntilAsync(() => Task.FromResult(!listener._statistics.IsEmpty), TimeSpan.FromSeconds(10), "the statistics sent on connecting");
            return listener;
        }

        public Task WaitForOutcomesAsync(Guid[] images) =>
            CellSegStack.WaitUntilAsync(
                () => Task.FromResult(images.All(image => _changes.Any(c => c.ImageId == image && c.Status is "segmented" or "failed"))),
                SegmentationTimeout,
                $"{images.Length} image(s) to be segmented");

        public async ValueTask DisposeAsync() => await Connection.DisposeAsync();
    }

    public async ValueTask DisposeAsync() => await _stack.DisposeAsync();
}
