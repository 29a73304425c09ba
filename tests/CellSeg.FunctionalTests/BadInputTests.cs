using System.Net;
using System.Net.Http.Headers;
using System.Net.Http.Json;
using CellSeg.Data;
using CellSeg.LoadGen;
using Microsoft.AspNetCore.Mvc;
using Microsoft.EntityFrameworkCore;
using Microsoft.Extensions.DependencyInjection;
using StackExchange.Redis;

namespace CellSeg.FunctionalTests;

/// <summary>Bad uploads and requests answer 4xx with ProblemDetails, and nothing is stored or queued for them.</summary>
public sealed class BadInputTests(StoresFixture stores) : IAsyncLifetime
{
    private CellSegStack _stack = null!;
    private CellSegApiClient _client = null!;

    public async ValueTask InitializeAsync()
    {
        var ct = TestContext.Current.CancellationToken;
        _stack = await CellSegStack.StartAsync(await stores.CreateDatabaseAsync(ct), stores.Redis.ConnectionString, ct);
        _client = await _stack.SignInAsync("bad-input@cellseg.test", ct);
    }

    [Fact]
    public async Task NonImageUploadIsRefusedWithAReasonAndNothingIsStored()
    {
        var project = await _client.CreateProjectAsync("Bad input", TestContext.Current.CancellationToken);

        var problem = await UploadExpectingProblemAsync(project.Id, "notes.png", "These are lab notes, not a picture."u8.ToArray(), HttpStatusCode.BadRequest);

        Assert.Contains("notes.png", problem.Detail, StringComparison.Ordinal);
        Assert.Contains("not a PNG, JPEG, BMP or TIFF", problem.Detail, StringComparison.Ordinal);
        await AssertNothingStoredOrQueuedAsync();
    }

    [Fact]
    public async Task EmptyFileIsRefusedWithAReasonAndNothingIsStored()
    {
        var project = await _client.CreateProjectAsync("Empty file", TestContext.Current.CancellationToken);

        var problem = await UploadExpectingProblemAsync(project.Id, "empty.png", [], HttpStatusCode.BadRequest);

        Assert.Contains("empty", problem.Detail, StringComparison.OrdinalIgnoreCase);
        await AssertNothingStoredOrQueuedAsync();
    }

    [Fact]
    public async Task UploadToAnUnknownProjectIsNotFoundAndNothingIsStored()
    {
        var png = await File.ReadAllBytesAsync(Path.Combine(LoadGen.Topology.RepositoryLayout.Root, "tests", "assets", "single-spheroid.png"), TestContext.Current.CancellationToken);

        var problem = await UploadExpectingProblemAsync(Guid.NewGuid(), "single-spheroid.png", png, HttpStatusCode.NotFound);

        Assert.Equal("Not found", problem.Title);
        await AssertNothingStoredOrQueuedAsync();
    }

    [Fact]
    public async Task SegmentingAnUnknownImageIsNotFoundAndQueuesNothing()
    {
        using var response = await _client.Http.PostAsJsonAsync($"/api/images/{Guid.NewGuid()}/segmentation", new { model = "hrnet" }, TestContext.Current.CancellationToken);

        Assert.Equal(HttpStatusCode.NotFound, response.StatusCode);
        Assert.Equal("application/problem+json", response.Content.Headers.ContentType?.MediaType);
        await AssertNothingStoredOrQueuedAsync();
    }

    [Fact]
    public async Task AnonymousUploadIsUnauthorized()
    {
        using var anonymous = _stack.Api.CreateHttpClient();
        using var form = new MultipartFormDataContent { { new ByteArrayContent([1, 2, 3]), "files", "a.png" } };

        using var response = await anonymous.PostAsync($"/api/projects/{Guid.NewGuid()}/images", form, TestContext.Current.CancellationToken);

        Assert.Equal(HttpStatusCode.Unauthorized, response.StatusCode);
    }

    private async Task<ProblemDetails> UploadExpectingProblemAsync(Guid projectId, string fileName, byte[] bytes, HttpStatusCode expected)
    {
        using var form = new MultipartFormDataContent();
        var content = new ByteArrayContent(bytes);
        content.Headers.ContentType = new MediaTypeHeaderValue("image/png");
        form.Add(content, "files", fileName);

        using var response = await _client.Http.PostAsync($"/api/projects/{projectId}/images", form, TestContext.Current.CancellationToken);

        Assert.Equal(expected, response.StatusCode);
        Assert.Equal("application/problem+json", response.Content.Headers.ContentType?.MediaType);
        var problem = await response.Content.ReadFromJsonAsync<ProblemDetails>(TestContext.Current.CancellationToken);
        Assert.NotNull(problem);
        Assert.Equal((int)expected, problem.Status);
        Assert.False(string.IsNullOrWhiteSpace(problem.Detail));
        return problem;
    }

    private async Task AssertNothingStoredOrQueuedAsync()
    {
        var ct = TestContext.Current.CancellationToken;
        await using var scope = _stack.Api.Services.CreateAsyncScope();
        var db = scope.ServiceProvider.GetRequiredService<CellSegDbContext>();
        Assert.Equal(0, await db.Images.CountAsync(ct));
        Assert.Equal(0, await db.ImageContents.CountAsync(ct));
        Assert.Equal(0, await db.SegmentationTasks.CountAsync(ct));

        var redis = scope.ServiceProvider.GetRequiredService<IConnectionMultiplexer>();
        Assert.Equal(0, await redis.GetDatabase().StreamLengthAsync(_stack.StreamKey));
    }

    public async ValueTask DisposeAsync() => await _stack.DisposeAsync();
}
