using System.Diagnostics;
using System.Text.Json;
using CellSeg.Data;
using CellSeg.Data.Model;
using CellSeg.LoadGen.Topology;
using Microsoft.EntityFrameworkCore;
using Microsoft.Extensions.DependencyInjection;

namespace CellSeg.FunctionalTests;

public sealed class EndToEndTests(StoresFixture stores) : IAsyncLifetime
{
    private readonly SpanRecorder _spans = new();
    private CellSegStack _stack = null!;

    public async ValueTask InitializeAsync()
    {
        var database = await stores.CreateDatabaseAsync(TestContext.Current.CancellationToken);
        _stack = await CellSegStack.StartAsync(database, stores.Redis.ConnectionString, TestContext.Current.CancellationToken);
    }

    [Fact]
    public async Task OneImageTravelsFromUploadToStoredPolygonsInOneTrace()
    {
        var ct = TestContext.Current.CancellationToken;
        var truth = JsonDocument.Parse(await File.ReadAllTextAsync(Asset("single-spheroid.json"), ct)).RootElement;
        var trueArea = truth.GetProperty("area").GetDouble();

        var client = await _stack.SignInAsync("e2e@cellseg.test", ct);
        var project = await client.CreateProjectAsync("End to end", ct);
        var upload = await client.UploadAsync(project.Id, [("single-spheroid.png", await File.ReadAllBytesAsync(Asset("single-spheroid.png"), ct))], ct);
        var image = Assert.Single(upload.Images);
        Assert.Empty(upload.Rejected);

        var task = await client.RequestSegmentationAsync(image.Id, "hrnet", ct);
        Assert.Equal("queued", task.Status);

        await CellSegStack.WaitUntilAsync(
            async () => (await client.GetImageAsync(image.Id, ct)).Status is "segmented" or "failed",
            TimeSpan.FromSeconds(60),
            "the image to be segmented");
        var final = await client.GetImageAsync(image.Id, ct);
        Assert.Equal("segmented", final.Status);

        // The stored polygons: one spheroid whose area matches the mask it was drawn from.
        var result = await client.GetResultAsync(image.Id, ct);
        Assert.Equal(1, result.ObjectCount);
        Assert.Equal((512, 512), (result.Width, result.Height));
        var spheroid = Assert.Single(result.Objects.EnumerateArray());
        Assert.Equal("external", spheroid.GetProperty("kind").GetString());
        var area = spheroid.GetProperty("metrics").GetProperty("area").GetDouble();
        Assert.InRange(area, trueArea * 0.95, trueArea * 1.05);
        Assert.True(spheroid.GetProperty("points").GetArrayLength() >= 8);

        await using (var scope = _stack.Api.Services.CreateAsyncScope())
        {
            var db = scope.ServiceProvider.GetRequiredService<CellSegDbContext>();
            Assert.Equal(1, await db.SegmentationResults.CountAsync(r => r.ImageId == image.Id, ct));
            var stored = await db.SegmentationTasks.SingleAsync(t => t.ImageId == image.Id, ct);
            Assert.Equal(SegmentationTaskStatus.Completed, stored.Status);
            Assert.Equal(1, stored.Attempts);
        }

        // Api, QueueWorker and Inference each recorded a span of this image's journey, all in one trace.
        var imageTag = image.Id.ToString();
        await CellSegStack.WaitUntilAsync(
            () => Task.FromResult(_spans.Spans.Any(s => s.Source.Name == "CellSeg.QueueWorker" && Tag(s, "cellseg.image_id") == imageTag)),
            TimeSpan.FromSeconds(10),
            "the worker's span");
        var spans = _spans.Spans;
        var apiSpan = Assert.Single(spans, s => s.Source.Name == "CellSeg.Api" && Tag(s, "cellseg.image_id") == imageTag);
        var workerSpan = Assert.Single(spans, s => s.Source.Name == "CellSeg.QueueWorker" && Tag(s, "cellseg.image_id") == imageTag);
        Assert.NotEqual(default, apiSpan.TraceId);
        Assert.Equal(apiSpan.TraceId, workerSpan.TraceId);
        Assert.Contains(spans, s => s.Source.Name == "CellSeg.Inference" && s.TraceId == apiSpan.TraceId);
    }

    private static string? Tag(Activity span, string name) => span.GetTagItem(name)?.ToString();

    private static string Asset(string name) => Path.Combine(RepositoryLayout.Root, "tests", "assets", name);

    public async ValueTask DisposeAsync()
    {
        await _stack.DisposeAsync();
        _spans.Dispose();
    }
}
