using CellSeg.Data;
using CellSeg.Data.Model;
using Microsoft.EntityFrameworkCore;
using Microsoft.Extensions.DependencyInjection;

namespace CellSeg.FunctionalTests;

/// <summary>
/// Tests whose outcome rests on how fast requests reach the worker run alone, after every parallel class has finished:
/// beside them, on a 2-core clean-clone CI run, a second user's tasks once reached the worker more than the 1 s
/// gathering time after the first user's.
/// </summary>
[CollectionDefinition(nameof(SchedulingTiming), DisableParallelization = true)]
public sealed class SchedulingTiming;

/// <summary>How an idle worker shares its first batch between users who ask at nearly the same moment.</summary>
[Collection(nameof(SchedulingTiming))]
public sealed class SchedulingTests(StoresFixture stores) : IAsyncLifetime
{
    private CellSegStack _stack = null!;

    public async ValueTask InitializeAsync()
    {
        var ct = TestContext.Current.CancellationToken;
        // One slot, so that each batch shows who was in the scheduler when it was taken; a generous gathering time,
        // so that a slow test machine still gets the second request's tasks read within it.
        _stack = await CellSegStack.StartAsync(
            await stores.CreateDatabaseAsync(ct),
            stores.Redis.ConnectionString,
            ct,
            workerSettings: new Dictionary<string, string?>
            {
                ["SegmentationWorker:Slots"] = "1",
                ["SegmentationWorker:GatherMs"] = "1000",
            });
    }

    [Fact]
    public async Task UsersAskingMomentsApartShareTheIdleWorkersFirstBatch()
    {
        var ct = TestContext.Current.CancellationToken;
        var first = await _stack.SignInAsync("first@cellseg.test", ct);
        var second = await _stack.SignInAsync("second@cellseg.test", ct);
        var (firstProject, firstImages) = await SegmentationRequestTests.UploadAsync(first, "First", 4, ct);
        var (secondProject, secondImages) = await SegmentationRequestTests.UploadAsync(second, "Second", 4, ct);

        await first.RequestBatchSegmentationAsync(firstProject, firstImages, "hrnet", ct);
        await Task.Delay(20, ct);
        await second.RequestBatchSegmentationAsync(secondProject, secondImages, "hrnet", ct);

        List<(Guid ImageId, DateTimeOffset StartedAt)> started = [];
        await CellSegStack.WaitUntilAsync(
            async () =>
            {
                await using var scope = _stack.Api.Services.CreateAsyncScope();
                var db = scope.ServiceProvider.GetRequiredService<CellSegDbContext>();
                var tasks = await db.SegmentationTasks.AsNoTracking()
                    .Where(t => firstImages.Contains(t.ImageId) || secondImages.Contains(t.ImageId))
                    .Select(t => new { t.ImageId, t.Status, t.StartedAt })
                    .ToListAsync(ct);
                started = [.. tasks.Where(t => t.Status == SegmentationTaskStatus.Completed).Select(t => (t.ImageId, t.StartedAt!.Value))];
                return started.Count == firstImages.Length + secondImages.Length;
            },
            TimeSpan.FromSeconds(60),
            "both users' images to be segmented");

        // Without the gathering the slot took the first user's four images alone, and the second user's first image
        // started only after all of them.
        var firstUsersLast = started.Where(s => firstImages.Contains(s.ImageId)).Max(s => s.StartedAt);
        var secondUsersFirst = started.Where(s => secondImages.Contains(s.ImageId)).Min(s => s.StartedAt);
        Assert.True(
            secondUsersFirst <= firstUsersLast,
            $"The second user's first image started at {secondUsersFirst:O}, after the first user's last at {firstUsersLast:O}.");
    }

    public async ValueTask DisposeAsync() => await _stack.DisposeAsync();
}
