using System.Net;
using System.Net.Http.Headers;
using System.Net.Http.Json;
using CellSeg.LoadGen;

namespace CellSeg.FunctionalTests;

/// <summary>
/// Uploads and segmentation requests are limited per user, with the limits of the configuration: a user over the
/// limit gets 429 with a Retry-After and a problem, while another user at the same time is served.
/// </summary>
public sealed class RateLimitTests(StoresFixture stores) : IAsyncLifetime
{
    private const int Uploads = 3;
    private const int SegmentationRequests = 2;

    private CellSegStack _stack = null!;

    public async ValueTask InitializeAsync()
    {
        var ct = TestContext.Current.CancellationToken;
        _stack = await CellSegStack.StartAsync(
            await stores.CreateDatabaseAsync(ct),
            stores.Redis.ConnectionString,
            ct,
            apiSettings: new Dictionary<string, string?>
            {
                ["RateLimits:Uploads:PermitLimit"] = $"{Uploads}",
                ["RateLimits:Uploads:Window"] = "00:05:00",
                ["RateLimits:Segmentation:PermitLimit"] = $"{SegmentationRequests}",
                ["RateLimits:Segmentation:Window"] = "00:05:00",
            });
    }

    [Fact]
    public async Task AUserOverTheUploadLimitGetsTooManyRequestsWhileAnotherUserUploadsAtTheSameTime()
    {
        var ct = TestContext.Current.CancellationToken;
        var busy = await _stack.SignInAsync("busy-uploader@cellseg.test", ct);
        var other = await _stack.SignInAsync("other-uploader@cellseg.test", ct);
        var busyProject = await busy.CreateProjectAsync("Busy", ct);
        var otherProject = await other.CreateProjectAsync("Other", ct);

        var busyAnswers = Enumerable.Range(0, Uploads + 2).Select(i => UploadAsync(busy, busyProject.Id, $"busy-{i}.png", ct)).ToList();
        var otherAnswers = Enumerable.Range(0, Uploads).Select(i => UploadAsync(other, otherProject.Id, $"other-{i}.png", ct)).ToList();
        var answers = await Task.WhenAll(busyAnswers.Concat(otherAnswers));

        var busyStatuses = answers.Take(Uploads + 2).Select(a => a.StatusCode).ToList();
        Assert.Equal(Uploads, busyStatuses.Count(s => s == HttpStatusCode.Created));
        Assert.Equal(2, busyStatuses.Count(s => s == HttpStatusCode.TooManyRequests));
        Assert.All(answers.Skip(Uploads + 2), a => Assert.Equal(HttpStatusCode.Created, a.StatusCode));
        foreach (var refused in answers.Where(a => a.StatusCode == HttpStatusCode.TooManyRequests))
        {
            await AssertTooManyRequestsAsync(refused, $"At most {Uploads} upload requests per user every 300 s.");
        }

        // What was refused was not stored, and the limit holds for uploads only.
        Assert.Equal(Uploads, (await busy.ListImagesAsync(busyProject.Id, ct)).Count);
        Assert.Equal(Uploads, (await other.ListImagesAsync(otherProject.Id, ct)).Count);
        using var projects = await busy.Http.GetAsync("/api/projects", ct);
        Assert.Equal(HttpStatusCode.OK, projects.StatusCode);
        foreach (var answer in answers)
        {
            answer.Dispose();
        }
    }

    [Fact]
    public async Task AUserOverTheSegmentationLimitGetsTooManyRequestsWhileAnotherUserIsServed()
    {
        var ct = TestContext.Current.CancellationToken;
        var busy = await _stack.SignInAsync("busy-segmenter@cellseg.test", ct);
        var other = await _stack.SignInAsync("other-segmenter@cellseg.test", ct);
        var busyImages = await UploadImagesAsync(busy, SegmentationRequests + 1, ct);
        var otherImages = await UploadImagesAsync(other, SegmentationRequests, ct);

        var busyAnswers = busyImages.Ids.Select(image => busy.Http.PostAsJsonAsync($"/api/images/{image}/segmentation", new { model = "hrnet" }, ct)).ToList();
        var otherAnswers = otherImages.Ids.Select(image => other.Http.PostAsJsonAsync($"/api/images/{image}/segmentation", new { model = "hrnet" }, ct)).ToList();
        var answers = await Task.WhenAll(busyAnswers.Concat(otherAnswers));

        var busyStatuses = answers.Take(busyImages.Ids.Length).Select(a => a.StatusCode).ToList();
        Assert.Equal(SegmentationRequests, busyStatuses.Count(s => s == HttpStatusCode.Accepted));
        var refused = Assert.Single(answers.Take(busyImages.Ids.Length), a => a.StatusCode == HttpStatusCode.TooManyRequests);
        await AssertTooManyRequestsAsync(refused, $"At most {SegmentationRequests} segmentation requests per user every 300 s.");
        Assert.All(answers.Skip(busyImages.Ids.Length), a => Assert.Equal(HttpStatusCode.Accepted, a.StatusCode));

        // The batch endpoint shares the budget, and the refused image was not queued.
        using var batch = await busy.Http.PostAsJsonAsync($"/api/projects/{busyImages.Project}/segmentation", new { imageIds = busyImages.Ids }, ct);
        await AssertTooManyRequestsAsync(batch, "segmentation requests");
        Assert.Equal(1, (await busy.ListImagesAsync(busyImages.Project, ct)).Count(i => i.Status == "none"));
        foreach (var answer in answers)
        {
            answer.Dispose();
        }
    }

    private static async Task AssertTooManyRequestsAsync(HttpResponseMessage response, string detail)
    {
        var problem = await ProjectsApiTests.AssertProblemAsync(response, HttpStatusCode.TooManyRequests);
        Assert.Equal("Too many requests", problem.Title);
        Assert.Contains(detail, problem.Detail, StringComparison.Ordinal);
        var retryAfter = response.Headers.RetryAfter?.Delta;
        Assert.NotNull(retryAfter);
        Assert.InRange(retryAfter.Value, TimeSpan.FromSeconds(1), TimeSpan.FromMinutes(5));
    }

    private static Task<HttpResponseMessage> UploadAsync(CellSegApiClient client, Guid projectId, string fileName, CancellationToken ct)
    {
        var content = new ByteArrayContent(ProjectsApiTests.Png(32, 32));
        content.Headers.ContentType = new MediaTypeHeaderValue("image/png");
        var form = new MultipartFormDataContent { { content, "files", fileName } };
        return client.Http.PostAsync($"/api/projects/{projectId}/images", form, ct);
    }

    /// <summary>One upload request (the upload budget is not what these tests spend) of <paramref name="count"/> images.</summary>
    private static async Task<(Guid Project, Guid[] Ids)> UploadImagesAsync(CellSegApiClient client, int count, CancellationToken ct)
    {
        var project = await client.CreateProjectAsync("Segment", ct);
        var upload = await client.UploadAsync(project.Id, Enumerable.Range(0, count).Select(i => ($"{i}.png", ProjectsApiTests.Png(32 + i, 32))), ct);
        return (project.Id, [.. upload.Images.Select(i => i.Id)]);
    }

    public async ValueTask DisposeAsync() => await _stack.DisposeAsync();
}
