using System.Net;
using System.Net.Http.Headers;
using System.Text;
using CellSeg.LoadGen;
using Microsoft.AspNetCore.Mvc;
using System.Net.Http.Json;

namespace CellSeg.FunctionalTests;

/// <summary>
/// Requests the Api cannot use are answered 400 with a problem that names what is wrong: unreadable JSON, a value
/// of the wrong type, a missing body, a query value that is no number, and parameters out of range.
/// </summary>
public sealed class ValidationTests(StoresFixture stores) : IAsyncLifetime
{
    private CellSegStack _stack = null!;
    private CellSegApiClient _client = null!;

    public async ValueTask InitializeAsync()
    {
        var ct = TestContext.Current.CancellationToken;
        _stack = await CellSegStack.StartAsync(await stores.CreateDatabaseAsync(ct), stores.Redis.ConnectionString, ct);
        _client = await _stack.SignInAsync("validation@cellseg.test", ct);
    }

    [Fact]
    public async Task UnreadableRequestsAreProblemsThatSayWhatIsWrong()
    {
        var ct = TestContext.Current.CancellationToken;
        var project = await _client.CreateProjectAsync("Validation", ct);
        var image = Assert.Single((await _client.UploadAsync(project.Id, [("a.png", ProjectsApiTests.Png(20, 20))], ct)).Images);

        (string Method, string Url, string? Json, string Detail)[] cases =
        [
            ("POST", "/api/projects", "{", "The JSON at $ is malformed"),
            ("POST", "/api/projects", null, "The request needs a body (application/json)."),
            ("POST", "/api/projects", """{"name": 5}""", "The JSON at $.name is malformed or not of the expected type."),
            ("POST", $"/api/images/{image.Id}/segmentation", """{"threshold": "high"}""", "$.threshold"),
            ("POST", $"/api/projects/{project.Id}/segmentation", """{"imageIds": ["x"]}""", "$.imageIds[0]"),
            ("PUT", $"/api/images/{image.Id}/result", """{"objects": 3}""", "$.objects"),
            ("GET", "/api/projects?page=abc", null, "Failed to bind parameter \"int page\" from \"abc\"."),
            ("GET", $"/api/images/{image.Id}/thumbnail?size=x", null, "Failed to bind parameter \"int size\" from \"x\"."),
        ];
        foreach (var (method, url, json, detail) in cases)
        {
            using var request = new HttpRequestMessage(new HttpMethod(method), url);
            if (json is not null)
            {
                request.Content = new StringContent(json, Encoding.UTF8, "application/json");
            }

            using var response = await _client.Http.SendAsync(request, ct);

            var problem = await ProjectsApiTests.AssertProblemAsync(response, HttpStatusCode.BadRequest);
            Assert.Equal("Unreadable request", problem.Title);
            Assert.Contains(detail, problem.Detail, StringComparison.Ordinal);
        }

        Assert.Equal("none", (await _client.GetImageAsync(image.Id, ct)).Status);
    }

    [Fact]
    public async Task SegmentationParametersOutOfRangeAreAValidationProblemPerParameter()
    {
        var ct = TestContext.Current.CancellationToken;
        var project = await _client.CreateProjectAsync("Parameters", ct);
        var image = Assert.Single((await _client.UploadAsync(project.Id, [("a.png", ProjectsApiTests.Png(20, 20))], ct)).Images);

        foreach (var url in new[] { $"/api/images/{image.Id}/segmentation", $"/api/projects/{project.Id}/segmentation" })
        {
            using var response = await _client.Http.PostAsJsonAsync(url, new { imageIds = new[] { image.Id }, model = "unet", threshold = 0.95, priority = -1 }, ct);

            Assert.Equal(HttpStatusCode.BadRequest, response.StatusCode);
            var problem = (await response.Content.ReadFromJsonAsync<ValidationProblemDetails>(ct))!;
            Assert.Equal("Invalid segmentation parameters", problem.Title);
            Assert.Equal(["model", "priority", "threshold"], problem.Errors.Keys.Order(StringComparer.Ordinal));
            Assert.Equal(["'unet' is not one of hrnet, cbam_resunet, unet_spherohq."], problem.Errors["model"]);
            Assert.Equal(["threshold is between 0.1 and 0.9, not 0.95."], problem.Errors["threshold"]);
            Assert.Equal(["priority is between 0 and 10, not -1."], problem.Errors["priority"]);
        }

        // Nothing was queued, and the bounds themselves are accepted.
        Assert.Equal("none", (await _client.GetImageAsync(image.Id, ct)).Status);
        using var bounds = await _client.Http.PostAsJsonAsync($"/api/images/{image.Id}/segmentation", new { model = "hrnet", threshold = 0.9, priority = 10 }, ct);
        Assert.Equal(HttpStatusCode.Accepted, bounds.StatusCode);
    }

    [Fact]
    public async Task AMultipartBodyCutShortKeepsTheFilesBeforeTheBreakAndReportsIt()
    {
        var ct = TestContext.Current.CancellationToken;
        var project = await _client.CreateProjectAsync("Cut short", ct);
        var png = ProjectsApiTests.Png(30, 20);
        var body = new MemoryStream();
        body.Write("--cut\r\nContent-Disposition: form-data; name=\"files\"; filename=\"whole.png\"\r\nContent-Type: image/png\r\n\r\n"u8);
        body.Write(png);
        body.Write("\r\n--cut\r\nContent-Disposition: form-data; name=\"files\"; filename=\"cut.png\"\r\n\r\n"u8);
        body.Write(png.AsSpan(0, 30));
        using var content = new ByteArrayContent(body.ToArray());
        content.Headers.ContentType = MediaTypeHeaderValue.Parse("multipart/form-data; boundary=cut");

        using var response = await _client.Http.PostAsync($"/api/projects/{project.Id}/images", content, ct);

        Assert.Equal(HttpStatusCode.Created, response.StatusCode);
        var answer = (await response.Content.ReadFromJsonAsync<UploadAnswer>(ct))!;
        Assert.Equal(["whole.png"], answer.Images.Select(i => i.FileName));
        var refused = Assert.Single(answer.Rejected);
        Assert.Equal(("cut.png", "Malformed multipart body", 400), (refused.FileName, refused.Title, refused.Status));
        Assert.Equal(["whole.png"], (await _client.ListImagesAsync(project.Id, ct)).Select(i => i.FileName));
    }

    private sealed record UploadAnswer(IReadOnlyList<CellSegApiClient.ImageDto> Images, IReadOnlyList<Refusal> Rejected);

    private sealed record Refusal(string FileName, string Title, int Status, string Detail);

    public async ValueTask DisposeAsync() => await _stack.DisposeAsync();
}
