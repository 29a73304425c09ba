using CellSeg.QueueWorker.Scheduling;

namespace CellSeg.QueueWorker.Tests;

public sealed class FairBatchSchedulerTests
{
    private static readonly BatchKey s_hrnet = new("hrnet", 0.5f, true);
    private static readonly Guid s_big = Guid.Parse("00000000-0000-0000-0000-00000000000b");
    private static readonly Guid s_small = Guid.Parse("00000000-0000-0000-0000-00000000000a");

    private static FairBatchScheduler<string> Scheduler(int maxBatch = 4, int maxInFlightPerUser = 100) =>
        new(_ => maxBatch, maxInFlightPerUser);

    [Fact]
    public void BatchesHoldOneKeyAndNeverMoreThanTheModelsSafeBatch()
    {
        var scheduler = Scheduler(maxBatch: 4);
        var other = s_hrnet with { Threshold = 0.7f };
        for (var i = 0; i < 6; i++)
        {
            scheduler.Add(s_big, 0, i % 2 == 0 ? s_hrnet : other, $"img{i}");
        }

        var first = scheduler.TryTake()!;
        Assert.Equal(s_hrnet, first.Key);
        Assert.Equal(["img0", "img2", "img4"], first.Items);
        var second = scheduler.TryTake()!;
        Assert.Equal(other, second.Key);
        Assert.Equal(["img1", "img3", "img5"], second.Items);
        Assert.Null(scheduler.TryTake());
        Assert.Equal(0, scheduler.Count);
    }

    [Fact]
    public void ABigUserCannotHoldTheSlotsAgainstASmallOne()
    {
        var scheduler = Scheduler(maxBatch: 4);
        for (var i = 0; i < 1000; i++)
        {
            scheduler.Add(s_big, 0, s_hrnet, $"big{i}");
        }

        for (var i = 0; i < 10; i++)
        {
            scheduler.Add(s_small, 0, s_hrnet, $"small{i}");
        }

        // Two users share each batch of four, two images each, until the small user's ten are done.
        for (var batch = 0; batch < 5; batch++)
        {
            var taken = scheduler.TryTake()!;
            Assert.Equal([s_big, s_small], taken.Chunks.Select(c => c.User));
            Assert.All(taken.Chunks, chunk => Assert.Equal(2, chunk.Items.Count));
        }

        // Then the big user, alone, gets whole batches.
        var alone = scheduler.TryTake()!;
        Assert.Equal(s_big, Assert.Single(alone.Chunks).User);
        Assert.Equal(4, alone.Items.Count);
        Assert.Equal(1010 - 24, scheduler.Count);
    }

    [Fact]
    public void WaitingUsersAdvanceAtTheSamePaceHoweverLongTheirQueues()
    {
        var scheduler = Scheduler(maxBatch: 8);
        for (var i = 0; i < 1000; i++)
        {
            scheduler.Add(s_big, 0, s_hrnet, "big");
        }

        var small = Enumerable.Range(1, 7).Select(i => new Guid(i, 0, 0, new byte[8])).ToList();
        foreach (var user in small)
        {
            for (var i = 0; i < 10; i++)
            {
                scheduler.Add(user, 0, s_hrnet, user.ToString());
            }
        }

        // Eight users and a batch of eight: one image each per batch, so after every batch all eight have had the
        // same number of images taken, and the ten small images are all out after ten batches.
        var served = new Dictionary<Guid, int>();
        for (var batch = 1; batch <= 10; batch++)
        {
            var taken = scheduler.TryTake()!;
            Assert.Equal(8, taken.Items.Count);
            foreach (var chunk in taken.Chunks)
            {
                served[chunk.User] = served.GetValueOrDefault(chunk.User) + chunk.Items.Count;
            }

            Assert.Equal(8, served.Count);
            Assert.All(served.Values, count => Assert.Equal(batch, count));
        }

        Assert.Equal(1000 - 10, scheduler.Count);
    }

    [Fact]
    public void ABatchIsFilledWhenTheUsersSharingItRunOutOfImagesOfThatKey()
    {
        var scheduler = Scheduler(maxBatch: 8);
        scheduler.Add(s_small, 0, s_hrnet, "small0");
        for (var i = 0; i < 20; i++)
        {
            scheduler.Add(s_big, 0, s_hrnet, $"big{i}");
        }

        // Quantum 4 each, but the small user has one image: the big user's next turn fills the batch.
        var taken = scheduler.TryTake()!;
        Assert.Equal(8, taken.Items.Count);
        Assert.Equal(["small0"], taken.Chunks.Single(c => c.User == s_small).Items);
        Assert.Equal(7, taken.Chunks.Single(c => c.User == s_big).Items.Count);
    }

    [Fact]
    public void HigherPriorityLevelsGoFirst()
    {
        var scheduler = Scheduler(maxBatch: 2);
        scheduler.Add(s_big, 0, s_hrnet, "low1");
        scheduler.Add(s_big, 0, s_hrnet, "low2");
        scheduler.Add(s_small, 5, s_hrnet, "high1");
        scheduler.Add(s_big, 9, s_hrnet, "urgent");

        Assert.Equal(["urgent"], scheduler.TryTake()!.Items);
        Assert.Equal(["high1"], scheduler.TryTake()!.Items);
        Assert.Equal(["low1", "low2"], scheduler.TryTake()!.Items);
    }

    [Fact]
    public void AUserAtTheInFlightCapWaitsUntilABatchCompletes()
    {
        var scheduler = Scheduler(maxBatch: 1, maxInFlightPerUser: 2);
        for (var i = 0; i < 5; i++)
        {
            scheduler.Add(s_big, 0, s_hrnet, $"big{i}");
        }

        var first = scheduler.TryTake()!;
        Assert.NotNull(scheduler.TryTake());
        Assert.Null(scheduler.TryTake());
        Assert.Equal(2, scheduler.InFlight(s_big));

        scheduler.Add(s_small, 0, s_hrnet, "small");
        var small = scheduler.TryTake()!;
        Assert.Equal(s_small, Assert.Single(small.Chunks).User);
        Assert.Null(scheduler.TryTake());

        scheduler.Complete(first);
        Assert.Equal(1, scheduler.InFlight(s_big));
        Assert.Equal(["big2"], scheduler.TryTake()!.Items);
    }

    [Fact]
    public void TheCapCountsAUsersImagesAcrossSharedBatches()
    {
        var scheduler = Scheduler(maxBatch: 4, maxInFlightPerUser: 1);
        for (var i = 0; i < 100; i++)
        {
            scheduler.Add(s_big, 0, s_hrnet, "big");
            scheduler.Add(s_small, 0, s_hrnet, "small");
        }

        // One batch's worth (4 images) each: two shared batches of 2 + 2, then both are at the cap.
        var first = scheduler.TryTake()!;
        scheduler.TryTake();
        Assert.Equal(4, scheduler.InFlight(s_big));
        Assert.Equal(4, scheduler.InFlight(s_small));
        Assert.Null(scheduler.TryTake());

        scheduler.Complete(first);
        Assert.Equal(2, scheduler.InFlight(s_big));
        var next = scheduler.TryTake()!;
        Assert.Equal(4, next.Items.Count);
        Assert.Null(scheduler.TryTake());
    }

    [Fact]
    public void AUserAtTheCapDoesNotBlockLowerPriorityWorkOfOthers()
    {
        var scheduler = Scheduler(maxBatch: 1, maxInFlightPerUser: 1);
        scheduler.Add(s_big, 9, s_hrnet, "urgent1");
        scheduler.Add(s_big, 9, s_hrnet, "urgent2");
        scheduler.Add(s_small, 0, s_hrnet, "normal");

        Assert.Equal(["urgent1"], scheduler.TryTake()!.Items);
        Assert.Equal(["normal"], scheduler.TryTake()!.Items);
    }

    [Fact]
    public void RemovedItemsAreNeverScheduled()
    {
        var scheduler = Scheduler(maxBatch: 10);
        for (var i = 0; i < 5; i++)
        {
            scheduler.Add(s_big, 0, s_hrnet, $"img{i}");
        }

        var removed = scheduler.Remove(item => item is "img1" or "img3");

        Assert.Equal(["img1", "img3"], removed);
        Assert.Equal(3, scheduler.Count);
        Assert.Equal(["img0", "img2", "img4"], scheduler.TryTake()!.Items);
        Assert.Empty(scheduler.Remove(_ => true));
    }
}
