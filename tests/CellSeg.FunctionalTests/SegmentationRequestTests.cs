using System.Net;
using System.Net.Http.Json;
using CellSeg.Data;
using CellSeg.Data.Model;
using CellSeg.Data.Queue;
using CellSeg.LoadGen;
using Microsoft.EntityFrameworkCore;
using Microsoft.Extensions.DependencyInjection;
using StackExchange.Redis;

namespace CellSeg.FunctionalTests;

/// <summary>
/// What the Api does with segmentation requests and cancellations before any worker takes them: this class stops
/// its worker, so every task stays exactly where the Api put it.
/// </summary>
public sealed class SegmentationRequestTests(StoresFixture stores) : IAsyncLifetime
{
    private CellSegStack _stack = null!;
    private CellSegApiClient _client = null!;

    public sealed record TaskDto(Guid Id, Guid ImageId, Guid? BatchId, string Model, float Threshold, bool DetectHoles, int Priority, string Status);

    public sealed record BatchDto(Guid BatchId, IReadOnlyList<TaskDto> Queued, IReadOnlyList<TaskDto> AlreadyActive, IReadOnlyList<Guid> AlreadySegmented, IReadOnlyList<Guid> NotFound);

    public sealed record CancelledDto(int Cancelled, IReadOnlyList<Guid> TaskIds);

    public sealed record TaskCounts(int Queued, int Processing, int Completed, int Failed, int Cancelled);

    public sealed record Statistics(TaskCounts Mine, int QueuedOverall);

    public sealed record ImagePage(IReadOnlyList<CellSegApiClient.ImageDto> Items, int Page, int PageSize, int Total);

    public async ValueTask InitializeAsync()
    {
        var ct = TestContext.Current.CancellationToken;
        _stack = await CellSegStack.StartAsync(await stores.CreateDatabaseAsync(ct), stores.Redis.ConnectionString, ct);
        await _stack.Worker.DisposeAsync();
        _client = await _stack.SignInAsync("requests@cellseg.test", ct);
    }

    [Fact]
    public async Task AnImageAlreadyQueuedIsNotQueuedTwiceAndASegmentedOneOnlyWhenForced()
    {
        var ct = TestContext.Current.CancellationToken;
        var (_, images) = await UploadAsync(_client, "Twice", 2, ct);

        var stream = _stack.Api.Services.GetRequiredService<IConnectionMultiplexer>().GetDatabase();
        var first = await RequestAsync(images[0], new { model = "hrnet", threshold = 0.3, priority = 4, detectHoles = false }, HttpStatusCode.Accepted, ct);
        var queuedEntries = await stream.StreamLengthAsync(_stack.StreamKey);
        var second = await RequestAsync(images[0], new { model = "hrnet", threshold = 0.7 }, HttpStatusCode.Accepted, ct);

        Assert.Equal(("queued", 0.3f, 4, false, (Guid?)null), (first.Status, first.Threshold, first.Priority, first.DetectHoles, first.BatchId));
        Assert.Equal(first, second);
        Assert.Equal(queuedEntries, await stream.StreamLengthAsync(_stack.StreamKey));
        await using (var scope = _stack.Api.Services.CreateAsyncScope())
        {
            var db = scope.ServiceProvider.GetRequiredService<CellSegDbContext>();
            Assert.Equal(1, await db.SegmentationTasks.CountAsync(t => t.ImageId == images[0], ct));
            await db.Images.Where(i => i.Id == images[1]).ExecuteUpdateAsync(set => set.SetProperty(i => i.Status, ImageStatus.Segmented), ct);
        }

        using (var segmented = await _client.Http.PostAsJsonAsync($"/api/images/{images[1]}/segmentation", new { model = "hrnet" }, ct))
        {
            var problem = await ProjectsApiTests.AssertProblemAsync(segmented, HttpStatusCode.Conflict);
            Assert.Equal("Already segmented", problem.Title);
            Assert.Contains("force", problem.Detail, StringComparison.Ordinal);
        }

        var forced = await RequestAsync(images[1], new { model = "hrnet", force = true }, HttpStatusCode.Accepted, ct);
        Assert.Equal(("queued", 0.5f, 0, true), (forced.Status, forced.Threshold, forced.Priority, forced.DetectHoles));
        Assert.Equal("queued", (await _client.GetImageAsync(images[1], ct)).Status);
    }

    [Fact]
    public async Task AQueuedTaskIsMarkedWithTheQueueEpochItWentOutIn()
    {
        var ct = TestContext.Current.CancellationToken;
        var (_, images) = await UploadAsync(_client, "Marked", 1, ct);
        var task = await RequestAsync(images[0], new { model = "hrnet" }, HttpStatusCode.Accepted, ct);
        var epoch = await _stack.Api.Services.GetRequiredService<ISegmentationQueue>().GetEpochAsync(ct);

        // The mark is written in the background after the answer; the reconciler would re-dispatch it after 5 s.
        var deadline = DateTime.UtcNow.AddSeconds(5);
        SegmentationTask row;
        do
        {
            await Task.Delay(20, ct);
            await using var scope = _stack.Api.Services.CreateAsyncScope();
            row = await scope.ServiceProvider.GetRequiredService<CellSegDbContext>().SegmentationTasks.AsNoTracking().SingleAsync(t => t.Id == task.Id, ct);
        }
        while (row.DispatchEpoch is null && DateTime.UtcNow < deadline);

        Assert.Equal(epoch, row.DispatchEpoch);
        Assert.NotNull(row.DispatchedAt);
        Assert.True(row.DispatchedAt >= row.CreatedAt);
    }

    [Fact]
    public async Task ADispatchMarkSkipsARowAnotherTransactionHoldsAndMarksItOnceReleased()
    {
        // A worker's claim holds task rows for a moment; a mark that waited for them could deadlock with the claim.
        var ct = TestContext.Current.CancellationToken;
        var (_, images) = await UploadAsync(_client, "Locked", 2, ct);
        var held = await RequestAsync(images[0], new { model = "hrnet" }, HttpStatusCode.Accepted, ct);
        var free = await RequestAsync(images[1], new { model = "hrnet" }, HttpStatusCode.Accepted, ct);
        await WaitForEpochAsync(free.Id, epoch => epoch is not null, ct);
        await WaitForEpochAsync(held.Id, epoch => epoch is not null, ct);

        await using var scope = _stack.Api.Services.CreateAsyncScope();
        var db = scope.ServiceProvider.GetRequiredService<CellSegDbContext>();
        Guid[] both = [held.Id, free.Id];
        await db.SegmentationTasks.Where(t => both.Contains(t.Id)).ExecuteUpdateAsync(set => set.SetProperty(t => t.DispatchEpoch, (string?)null), ct);

        await using var lockConnection = await _stack.Api.Services.GetRequiredService<Npgsql.NpgsqlDataSource>().OpenConnectionAsync(ct);
        await using var transaction = await lockConnection.BeginTransactionAsync(ct);
        await using (var hold = new Npgsql.NpgsqlCommand("""SELECT 1 FROM segmentation_tasks WHERE "Id" = $1 FOR UPDATE""", lockConnection, transaction))
        {
            hold.Parameters.AddWithValue(held.Id);
            await hold.ExecuteScalarAsync(ct);
        }

        _stack.Api.Services.GetRequiredService<DispatchMarks>().Add([held.Id, free.Id], "locked-test", DateTimeOffset.UtcNow);

        Assert.Equal("locked-test", await WaitForEpochAsync(free.Id, epoch => epoch == "locked-test", ct));
        Assert.Null(await WaitForEpochAsync(held.Id, epoch => epoch is not null, ct, TimeSpan.FromMilliseconds(300)));

        await transaction.RollbackAsync(ct);
        Assert.Equal("locked-test", await WaitForEpochAsync(held.Id, epoch => epoch == "locked-test", ct));
    }

    /// <summary>The task's dispatch epoch once <paramref name="done"/> holds for it, or whatever it is after the wait.</summary>
    private async Task<string?> WaitForEpochAsync(Guid taskId, Func<string?, bool> done, CancellationToken ct, TimeSpan? wait = null)
    {
        var deadline = DateTime.UtcNow + (wait ?? TimeSpan.FromSeconds(10));
        string? epoch;
        do
        {
            await Task.Delay(20, ct);
            await using var scope = _stack.Api.Services.CreateAsyncScope();
            epoch = await scope.ServiceProvider.GetRequiredService<CellSegDbContext>().SegmentationTasks
                .Where(t => t.Id == taskId).Select(t => t.DispatchEpoch).SingleAsync(ct);
        }
        while (!done(epoch) && DateTime.UtcNow < deadline);

        return epoch;
    }

    [Fact]
    public async Task ConcurrentRequestsForOneImageQueueItOnce()
    {
        var ct = TestContext.Current.CancellationToken;
        var (project, images) = await UploadAsync(_client, "Race", 3, ct);
        var stream = _stack.Api.Services.GetRequiredService<IConnectionMultiplexer>().GetDatabase();
        var entriesBefore = await stream.StreamLengthAsync(_stack.StreamKey);

        // Twelve requests at once: single-image ones for the first image, batches for all three.
        var single = Enumerable.Range(0, 6).Select(_ => RequestAsync(images[0], new { model = "hrnet" }, HttpStatusCode.Accepted, ct)).ToList();
        var batches = Enumerable.Range(0, 6).Select(async _ =>
        {
            using var response = await _client.Http.PostAsJsonAsync($"/api/projects/{project}/segmentation", new { imageIds = images, model = "hrnet" }, ct);
            Assert.Equal(HttpStatusCode.Accepted, response.StatusCode);
            return (await response.Content.ReadFromJsonAsync<BatchDto>(ct))!;
        }).ToList();
        var singles = await Task.WhenAll(single);
        var batchResults = await Task.WhenAll(batches);

        // Every answer names the one task of its image, queued by exactly one of the requests.
        Assert.Single(singles.Select(t => t.Id).Distinct());
        var taskOf = new Dictionary<Guid, Guid>();
        var queuedBy = images.ToDictionary(i => i, _ => 0);
        foreach (var task in singles)
        {
            taskOf[task.ImageId] = task.Id;
        }

        foreach (var batch in batchResults)
        {
            Assert.Empty(batch.AlreadySegmented);
            Assert.Equal(3, batch.Queued.Count + batch.AlreadyActive.Count);
            foreach (var task in batch.Queued.Concat(batch.AlreadyActive))
            {
                Assert.Equal(taskOf.GetValueOrDefault(task.ImageId, task.Id), task.Id);
                taskOf[task.ImageId] = task.Id;
            }

            foreach (var task in batch.Queued)
            {
                queuedBy[task.ImageId]++;
            }
        }

        // The first image may have been queued by a single-image request, which answers the same either way.
        Assert.InRange(queuedBy[images[0]], 0, 1);
        Assert.All(images.Skip(1), image => Assert.Equal(1, queuedBy[image]));
        Assert.Equal(3, taskOf.Count);
        Assert.Equal(entriesBefore + 3, await stream.StreamLengthAsync(_stack.StreamKey));
        await using var scope = _stack.Api.Services.CreateAsyncScope();
        var db = scope.ServiceProvider.GetRequiredService<CellSegDbContext>();
        Assert.Equal(3, await db.SegmentationTasks.CountAsync(t => images.Contains(t.ImageId), ct));
        Assert.Equal(3, await db.Images.CountAsync(i => images.Contains(i.Id) && i.Status == ImageStatus.Queued, ct));
    }

    [Fact]
    public async Task ABatchReportsWhatItQueuedAndWhyItLeftTheRest()
    {
        var ct = TestContext.Current.CancellationToken;
        var (project, images) = await UploadAsync(_client, "Batch", 3, ct);
        var (_, elsewhere) = await UploadAsync(_client, "Elsewhere", 1, ct);
        var active = await RequestAsync(images[1], new { model = "hrnet" }, HttpStatusCode.Accepted, ct);
        await using (var scope = _stack.Api.Services.CreateAsyncScope())
        {
            var db = scope.ServiceProvider.GetRequiredService<CellSegDbContext>();
            await db.Images.Where(i => i.Id == images[2]).ExecuteUpdateAsync(set => set.SetProperty(i => i.Status, ImageStatus.Segmented), ct);
        }

        var unknown = Guid.NewGuid();
        using var response = await _client.Http.PostAsJsonAsync(
            $"/api/projects/{project}/segmentation",
            new { imageIds = new[] { images[0], images[1], images[2], unknown, elsewhere[0], images[0] }, model = "hrnet", priority = 2 },
            ct);

        Assert.Equal(HttpStatusCode.Accepted, response.StatusCode);
        var batch = (await response.Content.ReadFromJsonAsync<BatchDto>(ct))!;
        var queued = Assert.Single(batch.Queued);
        Assert.Equal((images[0], (Guid?)batch.BatchId, 2), (queued.ImageId, queued.BatchId, queued.Priority));
        Assert.Equal([active.Id], batch.AlreadyActive.Select(t => t.Id));
        Assert.Equal([images[2]], batch.AlreadySegmented);
        Assert.Equal([unknown, elsewhere[0]], batch.NotFound);

        foreach (var body in new object[] { new { imageIds = Array.Empty<Guid>() }, new { model = "hrnet" }, new { imageIds = Enumerable.Range(0, 10_001).Select(_ => Guid.NewGuid()) } })
        {
            using var invalid = await _client.Http.PostAsJsonAsync($"/api/projects/{project}/segmentation", body, ct);
            var problem = await ProjectsApiTests.AssertProblemAsync(invalid, HttpStatusCode.BadRequest);
            Assert.Equal("Invalid image list", problem.Title);
        }
    }

    [Fact]
    public async Task CancellingAnImageOrEverythingCancelsOnlyTheCallersTasks()
    {
        var ct = TestContext.Current.CancellationToken;
        var user = await _stack.SignInAsync("cancels@cellseg.test", ct);
        var other = await _stack.SignInAsync("keeps@cellseg.test", ct);
        var (project, images) = await UploadAsync(user, "Cancel", 3, ct);
        var (otherProject, otherImages) = await UploadAsync(other, "Keep", 1, ct);
        var batch = await user.RequestBatchSegmentationAsync(project, images, "hrnet", ct);
        await other.RequestBatchSegmentationAsync(otherProject, otherImages, "hrnet", ct);
        var taskOf = batch.Queued.ToDictionary(t => t.ImageId, t => t.Id);

        var one = await CancelAsync(user, $"/api/images/{images[0]}/segmentation/cancel", ct);
        Assert.Equal(1, one.Cancelled);
        Assert.Equal([taskOf[images[0]]], one.TaskIds);
        Assert.Equal("none", (await user.GetImageAsync(images[0], ct)).Status);
        Assert.Equal(0, (await CancelAsync(user, $"/api/images/{images[0]}/segmentation/cancel", ct)).Cancelled);

        var all = await CancelAsync(user, "/api/segmentation/cancel", ct);
        Assert.Equal(2, all.Cancelled);
        Assert.Equal(new[] { taskOf[images[1]], taskOf[images[2]] }.Order(), all.TaskIds.Order());
        Assert.All(await user.ListImagesAsync(project, ct), i => Assert.Equal("none", i.Status));
        Assert.Equal("queued", Assert.Single(await other.ListImagesAsync(otherProject, ct)).Status);

        var mine = await user.Http.GetFromJsonAsync<Statistics>("/api/segmentation/stats", ct);
        var theirs = await other.Http.GetFromJsonAsync<Statistics>("/api/segmentation/stats", ct);
        Assert.Equal(new TaskCounts(0, 0, 0, 0, 3), mine!.Mine);
        Assert.Equal(new TaskCounts(1, 0, 0, 0, 0), theirs!.Mine);
        Assert.True(mine.QueuedOverall >= 1, "The other user's task is still in the queue.");
    }

    [Fact]
    public async Task CancellingEverythingLocksTheTasksInIdOrderSoItOnlyWaitsBehindAnotherHolder()
    {
        var ct = TestContext.Current.CancellationToken;
        var user = await _stack.SignInAsync("lock-order@cellseg.test", ct);
        var (project, images) = await UploadAsync(user, "LockOrder", 6, ct);
        var batch = await user.RequestBatchSegmentationAsync(project, images, "hrnet", ct);
        var dataSource = _stack.Api.Services.GetRequiredService<Npgsql.NpgsqlDataSource>();
        await using var connection = await dataSource.OpenConnectionAsync(ct);

        // Postgres's own uuid order; each row then rewritten from the last to the first, so that a scan of the table
        // meets them in the reverse of that order.
        var ids = new List<Guid>();
        await using (var ordered = new Npgsql.NpgsqlCommand("""SELECT "Id" FROM segmentation_tasks WHERE "Id" = ANY($1) ORDER BY "Id" """, connection))
        {
            ordered.Parameters.AddWithValue(batch.Queued.Select(t => t.Id).ToArray());
            await using var reader = await ordered.ExecuteReaderAsync(ct);
            while (await reader.ReadAsync(ct))
            {
                ids.Add(reader.GetGuid(0));
            }
        }

        Assert.Equal(images.Length, ids.Count);
        foreach (var id in Enumerable.Reverse(ids))
        {
            await using var rewrite = new Npgsql.NpgsqlCommand("""UPDATE segmentation_tasks SET "Priority" = "Priority" WHERE "Id" = $1""", connection);
            rewrite.Parameters.AddWithValue(id);
            await rewrite.ExecuteNonQueryAsync(ct);
        }

        // Another transaction (a worker's claim, say) holds the last task: the cancel waits for it holding all the others.
        await using var holder = await dataSource.OpenConnectionAsync(ct);
        await using var transaction = await holder.BeginTransactionAsync(ct);
        await using (var hold = new Npgsql.NpgsqlCommand("""SELECT 1 FROM segmentation_tasks WHERE "Id" = $1 FOR NO KEY UPDATE""", holder, transaction))
        {
            hold.Parameters.AddWithValue(ids[^1]);
            await hold.ExecuteScalarAsync(ct);
        }

        var cancelling = CancelAsync(user, "/api/segmentation/cancel", ct);
        await WaitForALockWaitAsync(connection, ct);
        foreach (var id in ids[..^1])
        {
            await using var probe = new Npgsql.NpgsqlCommand("""SELECT 1 FROM segmentation_tasks WHERE "Id" = $1 FOR NO KEY UPDATE NOWAIT""", connection);
            probe.Parameters.AddWithValue(id);
            var refused = await Assert.ThrowsAsync<Npgsql.PostgresException>(() => probe.ExecuteScalarAsync(ct));
            Assert.Equal(Npgsql.PostgresErrorCodes.LockNotAvailable, refused.SqlState);
        }

        Assert.False(cancelling.IsCompleted);
        await transaction.CommitAsync(ct);
        var cancelled = await cancelling;
        Assert.Equal(ids.Order(), cancelled.TaskIds.Order());
        Assert.All(await user.ListImagesAsync(project, ct), i => Assert.Equal("none", i.Status));
    }

    /// <summary>Returns once another session on this database waits for a row lock.</summary>
    private static async Task WaitForALockWaitAsync(Npgsql.NpgsqlConnection connection, CancellationToken ct)
    {
        await using var waiting = new Npgsql.NpgsqlCommand(
            """SELECT count(*) FROM pg_stat_activity WHERE datname = current_database() AND wait_event_type = 'Lock' AND pid <> pg_backend_pid()""",
            connection);
        var deadline = DateTime.UtcNow.AddSeconds(10);
        while ((long)(await waiting.ExecuteScalarAsync(ct))! == 0)
        {
            Assert.True(DateTime.UtcNow < deadline, "Nothing waited for the held row.");
            await Task.Delay(10, ct);
        }
    }

    [Fact]
    public async Task ImagesAreListedByStatusAndPaged()
    {
        var ct = TestContext.Current.CancellationToken;
        var (project, images) = await UploadAsync(_client, "Listing", 4, ct);
        await _client.RequestBatchSegmentationAsync(project, [images[1], images[3]], "hrnet", ct);

        Assert.Equal([images[1], images[3]], (await ListAsync(project, "?status=queued", ct)).Items.Select(i => i.Id));
        Assert.Equal([images[1], images[3]], (await ListAsync(project, "?status=Queued", ct)).Items.Select(i => i.Id));
        Assert.Equal([images[0], images[2]], (await ListAsync(project, "?status=none", ct)).Items.Select(i => i.Id));
        Assert.Equal(0, (await ListAsync(project, "?status=segmented", ct)).Total);
        var second = await ListAsync(project, "?page=2&pageSize=3", ct);
        Assert.Equal((4, 2, 3), (second.Total, second.Page, second.PageSize));
        Assert.Equal([images[3]], second.Items.Select(i => i.Id));

        foreach (var query in new[] { "?status=done", "?status=1", "?page=0", "?pageSize=0", "?pageSize=101" })
        {
            using var response = await _client.Http.GetAsync($"/api/projects/{project}/images{query}", ct);
            await ProjectsApiTests.AssertProblemAsync(response, HttpStatusCode.BadRequest);
        }
    }

    private async Task<TaskDto> RequestAsync(Guid imageId, object body, HttpStatusCode expected, CancellationToken ct)
    {
        using var response = await _client.Http.PostAsJsonAsync($"/api/images/{imageId}/segmentation", body, ct);
        Assert.Equal(expected, response.StatusCode);
        return (await response.Content.ReadFromJsonAsync<TaskDto>(ct))!;
    }

    private static async Task<CancelledDto> CancelAsync(CellSegApiClient client, string url, CancellationToken ct)
    {
        using var response = await client.Http.PostAsync(url, null, ct);
        Assert.Equal(HttpStatusCode.OK, response.StatusCode);
        return (await response.Content.ReadFromJsonAsync<CancelledDto>(ct))!;
    }

    private async Task<ImagePage> ListAsync(Guid project, string query, CancellationToken ct)
    {
        using var response = await _client.Http.GetAsync($"/api/projects/{project}/images{query}", ct);
        Assert.Equal(HttpStatusCode.OK, response.StatusCode);
        return (await response.Content.ReadFromJsonAsync<ImagePage>(ct))!;
    }

    /// <summary>A new project of <paramref name="client"/>'s with <paramref name="count"/> small PNGs.</summary>
    internal static async Task<(Guid Project, Guid[] Images)> UploadAsync(CellSegApiClient client, string name, int count, CancellationToken ct)
    {
        var project = await client.CreateProjectAsync(name, ct);
        var upload = await client.UploadAsync(project.Id, Enumerable.Range(0, count).Select(i => ($"{i}.png", ProjectsApiTests.Png(24 + i, 24))), ct);
        return (project.Id, [.. upload.Images.Select(i => i.Id)]);
    }

    public async ValueTask DisposeAsync() => await _stack.DisposeAsync();
}
