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

        // Turns alternate batch by batch while both wait: big, small, big, small, ...
        var users = Enumerable.Range(0, 6).Select(_ => scheduler.TryTake()!.User).ToList();
        Assert.Equal([s_big, s_small, s_big, s_small, s_big, s_small], users);
        // Three batches of 4 for the big user, 4 + 4 + 2 for the small one.
        Assert.Equal(1010 - 22, scheduler.Count);
    }

    [Fact]
    public void SmallUsersAreServedWithinTheirFirstRoundsHoweverLongTheBigQueue()
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

        // Each small user's 10 images fit in two batches; eight users in the round means done within 16 batches.
        var served = new Dictionary<Guid, int>();
        for (var batch = 0; batch < 16; batch++)
        {
            var taken = scheduler.TryTake()!;
            served[taken.User] = served.GetValueOrDefault(taken.User) + taken.Items.Count;
        }

        Assert.All(small, user => Assert.Equal(10, served[user]));
        Assert.Equal(16, served[s_big]);
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

        Assert.NotNull(scheduler.TryTake());
        Assert.NotNull(scheduler.TryTake());
        Assert.Null(scheduler.TryTake());
        Assert.Equal(2, scheduler.InFlight(s_big));

        scheduler.Add(s_small, 0, s_hrnet, "small");
        Assert.Equal(s_small, scheduler.TryTake()!.User);

        scheduler.Complete(s_big);
        Assert.Equal(["big2"], scheduler.TryTake()!.Items);
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
