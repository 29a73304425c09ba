using System.Net;
using System.Net.Http.Json;
using System.Text.Json;
using CellSeg.Data;
using CellSeg.Data.Model;
using CellSeg.Imaging.Geometry;
using CellSeg.Imaging.Metrics;
using CellSeg.LoadGen;
using Microsoft.AspNetCore.Http;
using Microsoft.EntityFrameworkCore;
using Microsoft.Extensions.DependencyInjection;

namespace CellSeg.FunctionalTests;

/// <summary>Reading a result with metrics at a px→µm scale, and replacing its polygons by hand.</summary>
public sealed class ResultsApiTests(StoresFixture stores) : IAsyncLifetime
{
    private static readonly JsonSerializerOptions s_json = new(JsonSerializerDefaults.Web);

    // A 100 × 100 square with a 20 × 20 hole: 9,600 px² of object.
    private static readonly PolygonPoint[] s_square = [new(100, 100), new(200, 100), new(200, 200), new(100, 200)];
    private static readonly PolygonPoint[] s_hole = [new(140, 140), new(160, 140), new(160, 160), new(140, 160)];

    private CellSegStack _stack = null!;
    private CellSegApiClient _client = null!;

    public sealed record ObjectDto(int Id, string Kind, int? ParentId, IReadOnlyList<PolygonPoint> Points, double Confidence, ObjectMetrics? Metrics);

    public sealed record ResultDto(Guid ImageId, Guid TaskId, int Width, int Height, int ObjectCount, double? Scale, IReadOnlyList<ObjectDto> Objects);

    public async ValueTask InitializeAsync()
    {
        var ct = TestContext.Current.CancellationToken;
        _stack = await CellSegStack.StartAsync(await stores.CreateDatabaseAsync(ct), stores.Redis.ConnectionString, ct);
        _client = await _stack.SignInAsync("results@cellseg.test", ct);
    }

    [Fact]
    public async Task MetricsAreInPixelsOrScaledToMicrometres()
    {
        var ct = TestContext.Current.CancellationToken;
        var imageId = await SegmentedImageAsync(ct);

        var pixels = await GetResultAsync($"/api/images/{imageId}/result", ct);
        var micrometres = await GetResultAsync($"/api/images/{imageId}/result?scale=0.5", ct);

        Assert.Equal(1, pixels.ObjectCount);
        Assert.Null(pixels.Scale);
        Assert.Equal(0.5, micrometres.Scale);
        var inPixels = pixels.Objects.Single(o => o.Kind == "external").Metrics!;
        var inMicrometres = micrometres.Objects.Single(o => o.Kind == "external").Metrics!;
        Assert.Equal(9600, inPixels.Area, 1e-9);
        Assert.Equal(2400, inMicrometres.Area, 1e-9);
        Assert.Equal(inPixels.Perimeter * 0.5, inMicrometres.Perimeter, 1e-9);
        Assert.Equal(inPixels.FeretMax * 0.5, inMicrometres.FeretMax, 1e-9);
        Assert.Equal(inPixels.ConvexHullArea * 0.25, inMicrometres.ConvexHullArea, 1e-9);
        Assert.Equal(inPixels.Circularity, inMicrometres.Circularity, 1e-12);
        Assert.Equal(new BoundingBox(50, 50, 50, 50), inMicrometres.BoundingBox);
        Assert.Null(micrometres.Objects.Single(o => o.Kind == "internal").Metrics);
        Assert.Equal(s_square, micrometres.Objects.Single(o => o.Kind == "external").Points);

        foreach (var scale in new[] { "0", "-1", "NaN" })
        {
            using var response = await _client.Http.GetAsync($"/api/images/{imageId}/result?scale={scale}", ct);
            await ProjectsApiTests.AssertProblemAsync(response, HttpStatusCode.BadRequest);
        }
    }

    [Fact]
    public async Task EditedPolygonsReplaceTheLatestResultAndTheirMetricsFollow()
    {
        var ct = TestContext.Current.CancellationToken;
        var imageId = await SegmentedImageAsync(ct);
        PolygonPoint[] triangle = [new(10, 10), new(60, 10), new(10, 60)];
        PolygonPoint[] bigHole = [new(110, 110), new(190, 110), new(190, 190), new(110, 190)];
        var objects = new object[]
        {
            new { id = 1, kind = "external", points = triangle },
            new { id = 2, kind = "external", points = s_square, confidence = 0.75 },
            new { id = 3, kind = "internal", parentId = 2, points = bigHole },
        };

        using var response = await _client.Http.PutAsJsonAsync($"/api/images/{imageId}/result", new { objects }, ct);

        Assert.Equal(HttpStatusCode.OK, response.StatusCode);
        var stored = await GetResultAsync($"/api/images/{imageId}/result", ct);
        Assert.Equal(2, stored.ObjectCount);
        Assert.Equal([1, 2, 3], stored.Objects.Select(o => o.Id));
        Assert.Equal(1250, stored.Objects[0].Metrics!.Area, 1e-9);
        Assert.Equal(1.0, stored.Objects[0].Confidence);
        Assert.Equal(10000 - 6400, stored.Objects[1].Metrics!.Area, 1e-9);
        Assert.Equal(ObjectMetrics.FromPolygon(s_square, [bigHole]), stored.Objects[1].Metrics);
        Assert.Equal((2, 0.75), (stored.Objects[2].ParentId, stored.Objects[2].Confidence));

        // Stored as Inference stores results, with pixel metrics, so every reader agrees.
        await using var scope = _stack.Api.Services.CreateAsyncScope();
        var db = scope.ServiceProvider.GetRequiredService<CellSegDbContext>();
        var row = await db.SegmentationResults.AsNoTracking().SingleAsync(r => r.ImageId == imageId, ct);
        Assert.Equal(2, row.ObjectCount);
        var raw = JsonSerializer.Deserialize<List<ObjectDto>>(row.Objects, s_json)!;
        Assert.Equal(["external", "external", "internal"], raw.Select(o => o.Kind));
        Assert.Equal(3600, raw[1].Metrics!.Area, 1e-9);
    }

    [Fact]
    public async Task InvalidPolygonsAreRefusedByNameAndNothingIsStored()
    {
        var ct = TestContext.Current.CancellationToken;
        var imageId = await SegmentedImageAsync(ct);
        var before = await StoredObjectsAsync(imageId, ct);
        var objects = new object[]
        {
            new { id = 1, kind = "external", points = s_square },
            new { id = 2, kind = "external", points = new[] { new PolygonPoint(0, 0), new PolygonPoint(400, 0), new PolygonPoint(0, 10) } },
            new { id = 3, kind = "external", points = new[] { new PolygonPoint(0, 0), new PolygonPoint(20, 20), new PolygonPoint(20, 0), new PolygonPoint(0, 10) } },
            new { id = 4, kind = "internal", parentId = 99, points = s_hole },
            new { id = 5, kind = "external", points = new[] { new PolygonPoint(0, 0), new PolygonPoint(5, 5) } },
            new { id = 6, kind = "blob", points = s_square },
        };

        using var response = await _client.Http.PutAsJsonAsync($"/api/images/{imageId}/result", new { objects }, ct);

        Assert.Equal(HttpStatusCode.BadRequest, response.StatusCode);
        Assert.Equal("application/problem+json", response.Content.Headers.ContentType?.MediaType);
        var problem = await response.Content.ReadFromJsonAsync<HttpValidationProblemDetails>(ct);
        Assert.Equal(["objects[1]", "objects[2]", "objects[3]", "objects[4]", "objects[5]"], problem!.Errors.Keys.Order());
        Assert.Contains("Object 2", problem.Errors["objects[1]"][0], StringComparison.Ordinal);
        Assert.Contains("outside", problem.Errors["objects[1]"][0], StringComparison.Ordinal);
        Assert.Contains(problem.Errors["objects[2]"], reason => reason.Contains("intersects itself", StringComparison.Ordinal));
        Assert.Contains("parentId", problem.Errors["objects[3]"][0], StringComparison.Ordinal);
        Assert.Contains("at least 3", problem.Errors["objects[4]"][0], StringComparison.Ordinal);
        Assert.Contains("kind", problem.Errors["objects[5]"][0], StringComparison.Ordinal);
        Assert.Equal(before, await StoredObjectsAsync(imageId, ct));

        // A hole as large as its parent leaves nothing to measure.
        var covered = new object[]
        {
            new { id = 1, kind = "external", points = s_square },
            new { id = 2, kind = "internal", parentId = 1, points = s_square },
        };
        using var coveredResponse = await _client.Http.PutAsJsonAsync($"/api/images/{imageId}/result", new { objects = covered }, ct);
        var coveredProblem = await coveredResponse.Content.ReadFromJsonAsync<HttpValidationProblemDetails>(ct);
        Assert.Equal(HttpStatusCode.BadRequest, coveredResponse.StatusCode);
        Assert.Equal(["objects[0]"], coveredProblem!.Errors.Keys);
        Assert.Equal(before, await StoredObjectsAsync(imageId, ct));
    }

    [Fact]
    public async Task ResultOfAnImageNotSegmentedOrUnknownIsNotFound()
    {
        var ct = TestContext.Current.CancellationToken;
        var project = await _client.CreateProjectAsync("Not segmented", ct);
        var image = Assert.Single((await _client.UploadAsync(project.Id, [("plain.png", ProjectsApiTests.Png(50, 50))], ct)).Images);
        var body = new { objects = Array.Empty<object>() };

        using (var get = await _client.Http.GetAsync($"/api/images/{image.Id}/result", ct))
        {
            Assert.Equal("No result yet", (await ProjectsApiTests.AssertProblemAsync(get, HttpStatusCode.NotFound)).Title);
        }

        using (var put = await _client.Http.PutAsJsonAsync($"/api/images/{image.Id}/result", body, ct))
        {
            Assert.Equal("No result yet", (await ProjectsApiTests.AssertProblemAsync(put, HttpStatusCode.NotFound)).Title);
        }

        using var unknown = await _client.Http.PutAsJsonAsync($"/api/images/{Guid.NewGuid()}/result", body, ct);
        Assert.Equal("Not found", (await ProjectsApiTests.AssertProblemAsync(unknown, HttpStatusCode.NotFound)).Title);
    }

    /// <summary>A 300 × 300 image with a stored result (the square and its hole), as the QueueWorker stores one.</summary>
    private async Task<Guid> SegmentedImageAsync(CancellationToken ct)
    {
        var project = await _client.CreateProjectAsync("Results", ct);
        var image = Assert.Single((await _client.UploadAsync(project.Id, [("square.png", ProjectsApiTests.Png(300, 300))], ct)).Images);
        await using var scope = _stack.Api.Services.CreateAsyncScope();
        var db = scope.ServiceProvider.GetRequiredService<CellSegDbContext>();
        var owner = await db.Projects.Where(p => p.Id == project.Id).Select(p => p.OwnerId).SingleAsync(ct);
        var task = new SegmentationTask(DateTimeOffset.UtcNow)
        {
            ImageId = image.Id,
            ProjectId = project.Id,
            OwnerId = owner,
            Model = "hrnet",
            Status = SegmentationTaskStatus.Completed,
            Attempts = 1,
        };
        db.SegmentationTasks.Add(task);
        db.SegmentationResults.Add(new SegmentationResult(DateTimeOffset.UtcNow)
        {
            TaskId = task.Id,
            ImageId = image.Id,
            Model = "hrnet",
            Device = "test",
            Width = 300,
            Height = 300,
            ObjectCount = 1,
            Objects = JsonSerializer.Serialize(
                new object[]
                {
                    new { id = 1, kind = "external", parentId = (int?)null, points = s_square, confidence = 0.9, metrics = ObjectMetrics.FromPolygon(s_square, [s_hole]) },
                    new { id = 2, kind = "internal", parentId = 1, points = s_hole, confidence = 0.9, metrics = (ObjectMetrics?)null },
                },
                s_json),
        });
        await db.SaveChangesAsync(ct);
        await db.Images.Where(i => i.Id == image.Id).ExecuteUpdateAsync(set => set.SetProperty(i => i.Status, ImageStatus.Segmented), ct);
        return image.Id;
    }

    private async Task<string> StoredObjectsAsync(Guid imageId, CancellationToken ct)
    {
        await using var scope = _stack.Api.Services.CreateAsyncScope();
        var db = scope.ServiceProvider.GetRequiredService<CellSegDbContext>();
        return await db.SegmentationResults.AsNoTracking().Where(r => r.ImageId == imageId).Select(r => r.Objects).SingleAsync(ct);
    }

    private async Task<ResultDto> GetResultAsync(string url, CancellationToken ct)
    {
        using var response = await _client.Http.GetAsync(url, ct);
        Assert.Equal(HttpStatusCode.OK, response.StatusCode);
        return (await response.Content.ReadFromJsonAsync<ResultDto>(ct))!;
    }

    public async ValueTask DisposeAsync() => await _stack.DisposeAsync();
}
