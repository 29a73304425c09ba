using System.Net;
using System.Net.Http.Json;
using CellSeg.Data;
using CellSeg.LoadGen;
using CellSeg.LoadGen.Topology;
using Microsoft.AspNetCore.Mvc;
using Microsoft.EntityFrameworkCore;
using Microsoft.Extensions.DependencyInjection;
using SkiaSharp;

namespace CellSeg.FunctionalTests;

/// <summary>Projects (create, rename, list, search, sort, delete) and images (delete one or many, thumbnails).</summary>
public sealed class ProjectsApiTests(StoresFixture stores) : IAsyncLifetime
{
    private CellSegStack _stack = null!;
    private CellSegApiClient _client = null!;

    public sealed record ProjectDto(Guid Id, string Name, int ImageCount, DateTimeOffset CreatedAt, DateTimeOffset UpdatedAt);

    public sealed record ProjectPage(IReadOnlyList<ProjectDto> Items, int Page, int PageSize, int Total);

    public sealed record DeletedImages(IReadOnlyList<Guid> Deleted, IReadOnlyList<Guid> NotFound);

    public async ValueTask InitializeAsync()
    {
        var ct = TestContext.Current.CancellationToken;
        _stack = await CellSegStack.StartAsync(await stores.CreateDatabaseAsync(ct), stores.Redis.ConnectionString, ct);
        _client = await _stack.SignInAsync("projects@cellseg.test", ct);
    }

    [Fact]
    public async Task ProjectsAreListedPagedSearchedAndSorted()
    {
        var ct = TestContext.Current.CancellationToken;
        foreach (var name in new[] { "Beta spheroids", "alpha cells", "Gamma SPHEROIDS", "Delta 100%_done" })
        {
            await _client.CreateProjectAsync(name, ct);
        }

        var firstPage = await GetAsync<ProjectPage>("/api/projects?pageSize=3&sort=name&order=asc", ct);
        Assert.Equal(4, firstPage.Total);
        Assert.Equal(["alpha cells", "Beta spheroids", "Delta 100%_done"], firstPage.Items.Select(p => p.Name));
        var secondPage = await GetAsync<ProjectPage>("/api/projects?page=2&pageSize=3&sort=name&order=asc", ct);
        Assert.Equal(["Gamma SPHEROIDS"], secondPage.Items.Select(p => p.Name));

        var byNameDescending = await GetAsync<ProjectPage>("/api/projects?sort=name&order=desc", ct);
        Assert.Equal(["Gamma SPHEROIDS", "Delta 100%_done", "Beta spheroids", "alpha cells"], byNameDescending.Items.Select(p => p.Name));
        Assert.Equal(20, byNameDescending.PageSize);

        var newestFirst = await GetAsync<ProjectPage>("/api/projects?sort=createdAt&order=desc", ct);
        Assert.Equal("Delta 100%_done", newestFirst.Items[0].Name);

        var spheroids = await GetAsync<ProjectPage>("/api/projects?search=SpHeRoId&sort=name", ct);
        Assert.Equal(2, spheroids.Total);
        Assert.Equal(["Beta spheroids", "Gamma SPHEROIDS"], spheroids.Items.Select(p => p.Name));

        // LIKE wildcards in the search text match themselves only.
        var percent = await GetAsync<ProjectPage>("/api/projects?search=0%25_", ct);
        Assert.Equal(["Delta 100%_done"], percent.Items.Select(p => p.Name));
        Assert.Equal(0, (await GetAsync<ProjectPage>("/api/projects?search=_x", ct)).Total);

        // Another user sees none of them.
        var other = await _stack.SignInAsync("projects-other@cellseg.test", ct);
        using var theirs = await other.Http.GetAsync("/api/projects", ct);
        Assert.Equal(0, (await theirs.Content.ReadFromJsonAsync<ProjectPage>(ct))!.Total);
    }

    [Fact]
    public async Task ProjectIsRenamedAndItsUpdateTimeMoves()
    {
        var ct = TestContext.Current.CancellationToken;
        var project = await _client.CreateProjectAsync("Old name", ct);
        var created = await GetAsync<ProjectDto>($"/api/projects/{project.Id}", ct);

        using var response = await _client.Http.PatchAsJsonAsync($"/api/projects/{project.Id}", new { name = "  New name  " }, ct);

        Assert.Equal(HttpStatusCode.OK, response.StatusCode);
        var renamed = await response.Content.ReadFromJsonAsync<ProjectDto>(ct);
        Assert.Equal("New name", renamed!.Name);
        Assert.True(renamed.UpdatedAt > created.UpdatedAt);
        Assert.Equal("New name", (await GetAsync<ProjectDto>($"/api/projects/{project.Id}", ct)).Name);
    }

    [Theory]
    [InlineData("/api/projects?page=0")]
    [InlineData("/api/projects?pageSize=0")]
    [InlineData("/api/projects?pageSize=101")]
    [InlineData("/api/projects?sort=size")]
    [InlineData("/api/projects?order=sideways")]
    public async Task InvalidListingIsABadRequestProblem(string url)
    {
        using var response = await _client.Http.GetAsync(url, TestContext.Current.CancellationToken);

        await AssertProblemAsync(response, HttpStatusCode.BadRequest);
    }

    [Fact]
    public async Task RenamingToAnEmptyOrTooLongNameIsAValidationProblemAndChangesNothing()
    {
        var ct = TestContext.Current.CancellationToken;
        var project = await _client.CreateProjectAsync("Kept", ct);

        foreach (var name in new[] { "   ", new string('x', 201) })
        {
            using var response = await _client.Http.PatchAsJsonAsync($"/api/projects/{project.Id}", new { name }, ct);
            await AssertProblemAsync(response, HttpStatusCode.BadRequest);
        }

        using var unknown = await _client.Http.PatchAsJsonAsync($"/api/projects/{Guid.NewGuid()}", new { name = "x" }, ct);
        await AssertProblemAsync(unknown, HttpStatusCode.NotFound);
        Assert.Equal("Kept", (await GetAsync<ProjectDto>($"/api/projects/{project.Id}", ct)).Name);
    }

    [Fact]
    public async Task DeletingAProjectCancelsItsTasksAndRemovesItsImagesTasksAndResults()
    {
        var ct = TestContext.Current.CancellationToken;
        var project = await _client.CreateProjectAsync("To delete", ct);
        var kept = await _client.CreateProjectAsync("To keep", ct);
        var image = Assert.Single((await _client.UploadAsync(project.Id, [("a.png", Png(64, 32))], ct)).Images);
        var keptImage = Assert.Single((await _client.UploadAsync(kept.Id, [("b.png", Png(64, 32))], ct)).Images);
        var task = await _client.RequestSegmentationAsync(image.Id, "hrnet", ct);

        using var response = await _client.Http.DeleteAsync($"/api/projects/{project.Id}", ct);

        Assert.Equal(HttpStatusCode.NoContent, response.StatusCode);
        using (var gone = await _client.Http.GetAsync($"/api/projects/{project.Id}", ct))
        {
            await AssertProblemAsync(gone, HttpStatusCode.NotFound);
        }

        using (var again = await _client.Http.DeleteAsync($"/api/projects/{project.Id}", ct))
        {
            await AssertProblemAsync(again, HttpStatusCode.NotFound);
        }

        await using var scope = _stack.Api.Services.CreateAsyncScope();
        var db = scope.ServiceProvider.GetRequiredService<CellSegDbContext>();
        Assert.False(await db.Images.AnyAsync(i => i.Id == image.Id, ct));
        Assert.False(await db.ImageContents.AnyAsync(c => c.ImageId == image.Id, ct));
        Assert.False(await db.SegmentationTasks.AnyAsync(t => t.Id == task.Id, ct));
        Assert.False(await db.SegmentationResults.AnyAsync(r => r.ImageId == image.Id, ct));
        Assert.True(await db.Images.AnyAsync(i => i.Id == keptImage.Id, ct));
        Assert.Equal("To keep", (await GetAsync<ProjectDto>($"/api/projects/{kept.Id}", ct)).Name);
    }

    [Fact]
    public async Task ImagesAreDeletedOneAndManyWithTheirTasks()
    {
        var ct = TestContext.Current.CancellationToken;
        var project = await _client.CreateProjectAsync("Images", ct);
        var images = (await _client.UploadAsync(project.Id, [("1.png", Png(40, 40)), ("2.png", Png(40, 40)), ("3.png", Png(40, 40)), ("4.png", Png(40, 40))], ct)).Images;
        var task = await _client.RequestSegmentationAsync(images[1].Id, "hrnet", ct);

        using (var one = await _client.Http.DeleteAsync($"/api/images/{images[0].Id}", ct))
        {
            Assert.Equal(HttpStatusCode.NoContent, one.StatusCode);
        }

        using (var missing = await _client.Http.DeleteAsync($"/api/images/{images[0].Id}", ct))
        {
            await AssertProblemAsync(missing, HttpStatusCode.NotFound);
        }

        var unknown = Guid.NewGuid();
        using var many = await _client.Http.PostAsJsonAsync(
            $"/api/projects/{project.Id}/images/delete", new { imageIds = new[] { images[1].Id, images[2].Id, unknown } }, ct);

        Assert.Equal(HttpStatusCode.OK, many.StatusCode);
        var deleted = await many.Content.ReadFromJsonAsync<DeletedImages>(ct);
        Assert.Equal(new[] { images[1].Id, images[2].Id }.Order(), deleted!.Deleted.Order());
        Assert.Equal([unknown], deleted.NotFound);
        Assert.Equal([images[3].Id], (await _client.ListImagesAsync(project.Id, ct)).Select(i => i.Id));
        Assert.Equal(1, (await GetAsync<ProjectDto>($"/api/projects/{project.Id}", ct)).ImageCount);

        await using var scope = _stack.Api.Services.CreateAsyncScope();
        var db = scope.ServiceProvider.GetRequiredService<CellSegDbContext>();
        Assert.False(await db.SegmentationTasks.AnyAsync(t => t.Id == task.Id, ct));

        using var empty = await _client.Http.PostAsJsonAsync($"/api/projects/{project.Id}/images/delete", new { imageIds = Array.Empty<Guid>() }, ct);
        await AssertProblemAsync(empty, HttpStatusCode.BadRequest);
        using var otherProject = await _client.Http.PostAsJsonAsync($"/api/projects/{Guid.NewGuid()}/images/delete", new { imageIds = new[] { images[3].Id } }, ct);
        await AssertProblemAsync(otherProject, HttpStatusCode.NotFound);
        Assert.Single(await _client.ListImagesAsync(project.Id, ct));
    }

    [Fact]
    public async Task ThumbnailIsAPngOfTheRequestedSizeKeepingTheAspectRatio()
    {
        var ct = TestContext.Current.CancellationToken;
        var project = await _client.CreateProjectAsync("Thumbnails", ct);
        var image = Assert.Single((await _client.UploadAsync(project.Id, [("wide.png", Png(300, 150))], ct)).Images);

        using (var small = await DecodeThumbnailAsync($"/api/images/{image.Id}/thumbnail?size=100", ct))
        {
            Assert.Equal((100, 50), (small.Width, small.Height));
            // The left half of the source is red, the right half blue.
            Assert.Equal(SKColors.Red, small.GetPixel(10, 25));
            Assert.Equal(SKColors.Blue, small.GetPixel(90, 25));
        }

        using (var standard = await DecodeThumbnailAsync($"/api/images/{image.Id}/thumbnail", ct))
        {
            Assert.Equal((256, 128), (standard.Width, standard.Height));
        }

        using (var largest = await DecodeThumbnailAsync($"/api/images/{image.Id}/thumbnail?size=512", ct))
        {
            // Never larger than the image itself.
            Assert.Equal((300, 150), (largest.Width, largest.Height));
        }

        foreach (var size in new[] { 0, 513 })
        {
            using var response = await _client.Http.GetAsync($"/api/images/{image.Id}/thumbnail?size={size}", ct);
            await AssertProblemAsync(response, HttpStatusCode.BadRequest);
        }

        using var unknown = await _client.Http.GetAsync($"/api/images/{Guid.NewGuid()}/thumbnail", ct);
        await AssertProblemAsync(unknown, HttpStatusCode.NotFound);
    }

    [Fact]
    public async Task ThumbnailOfAnUndecodableImageIsAProblem()
    {
        var ct = TestContext.Current.CancellationToken;
        var project = await _client.CreateProjectAsync("Broken", ct);
        var png = Png(64, 64);
        var image = Assert.Single((await _client.UploadAsync(project.Id, [("broken.png", png)], ct)).Images);
        await using (var scope = _stack.Api.Services.CreateAsyncScope())
        {
            // A valid header over garbage pixels, as a damaged file on disk would be.
            var db = scope.ServiceProvider.GetRequiredService<CellSegDbContext>();
            var broken = png[..40].Concat(Enumerable.Repeat((byte)0x5A, 200)).ToArray();
            await db.ImageContents.Where(c => c.ImageId == image.Id).ExecuteUpdateAsync(set => set.SetProperty(c => c.Data, broken), ct);
        }

        using var response = await _client.Http.GetAsync($"/api/images/{image.Id}/thumbnail", ct);

        var problem = await AssertProblemAsync(response, HttpStatusCode.UnprocessableEntity);
        Assert.Contains(image.Id.ToString(), problem.Detail, StringComparison.Ordinal);
    }

    private async Task<SKBitmap> DecodeThumbnailAsync(string url, CancellationToken ct)
    {
        using var response = await _client.Http.GetAsync(url, ct);
        Assert.Equal(HttpStatusCode.OK, response.StatusCode);
        Assert.Equal("image/png", response.Content.Headers.ContentType?.MediaType);
        return SKBitmap.Decode(await response.Content.ReadAsByteArrayAsync(ct));
    }

    private async Task<T> GetAsync<T>(string url, CancellationToken ct)
    {
        using var response = await _client.Http.GetAsync(url, ct);
        Assert.Equal(HttpStatusCode.OK, response.StatusCode);
        return (await response.Content.ReadFromJsonAsync<T>(ct))!;
    }

    internal static async Task<ProblemDetails> AssertProblemAsync(HttpResponseMessage response, HttpStatusCode expected)
    {
        Assert.Equal(expected, response.StatusCode);
        Assert.Equal("application/problem+json", response.Content.Headers.ContentType?.MediaType);
        var problem = await response.Content.ReadFromJsonAsync<ProblemDetails>(TestContext.Current.CancellationToken);
        Assert.NotNull(problem);
        Assert.Equal((int)expected, problem.Status);
        return problem;
    }

    /// <summary>A PNG whose left half is red and right half blue.</summary>
    internal static byte[] Png(int width, int height)
    {
        using var bitmap = new SKBitmap(width, height, SKColorType.Rgba8888, SKAlphaType.Opaque);
        using (var canvas = new SKCanvas(bitmap))
        {
            using var red = new SKPaint { Color = SKColors.Red };
            using var blue = new SKPaint { Color = SKColors.Blue };
            canvas.DrawRect(0, 0, width / 2f, height, red);
            canvas.DrawRect(width / 2f, 0, width - (width / 2f), height, blue);
        }

        using var data = bitmap.Encode(SKEncodedImageFormat.Png, 100);
        return data.ToArray();
    }

    internal static string Asset(string name) => Path.Combine(RepositoryLayout.Root, "tests", "assets", name);

    public async ValueTask DisposeAsync() => await _stack.DisposeAsync();
}
