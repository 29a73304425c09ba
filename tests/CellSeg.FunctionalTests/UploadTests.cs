using System.Net;
using System.Net.Http.Headers;
using System.Net.Http.Json;
using System.Text.Json;
using CellSeg.Data;
using CellSeg.LoadGen;
using Microsoft.EntityFrameworkCore;
using Microsoft.Extensions.DependencyInjection;

namespace CellSeg.FunctionalTests;

/// <summary>
/// The streamed upload: each file is judged by its own header and limits, the good ones of a request are stored
/// while the bad ones are refused with a problem each.
/// </summary>
public sealed class UploadTests(StoresFixture stores) : IAsyncLifetime
{
    private const int MaxFilesPerRequest = 8;

    private readonly DirectoryInfo _folder = Directory.CreateTempSubdirectory("cellseg-upload-");
    private CellSegStack _stack = null!;
    private CellSegApiClient _client = null!;

    public async ValueTask InitializeAsync()
    {
        var ct = TestContext.Current.CancellationToken;
        _stack = await CellSegStack.StartAsync(
            await stores.CreateDatabaseAsync(ct),
            stores.Redis.ConnectionString,
            ct,
            apiSettings: new Dictionary<string, string?> { ["Uploads:MaxFilesPerRequest"] = MaxFilesPerRequest.ToString(System.Globalization.CultureInfo.InvariantCulture) });
        _client = await _stack.SignInAsync("uploads@cellseg.test", ct);
    }

    private sealed record StoredImage(Guid Id, string FileName, string Format, int Width, int Height, long SizeBytes, string Status);

    private sealed record Refusal(string FileName, string Title, int Status, string Detail, string Reason);

    private sealed record UploadAnswer(IReadOnlyList<StoredImage> Images, IReadOnlyList<Refusal> Rejected);

    [Fact]
    public async Task BadFilesAreRefusedEachWithAProblemWhileTheGoodOnesOfTheSameRequestAreStored()
    {
        var ct = TestContext.Current.CancellationToken;
        var project = await _client.CreateProjectAsync("Mixed upload", ct);
        var first = ProjectsApiTests.Png(120, 80);
        var second = UploadFiles.NoisePng(64, 64, seed: 2);
        var tiff = UploadFiles.Grey16Tiff(128, 128);
        // 21 MB whose first bytes are a perfectly good PNG: only its size can refuse it.
        var huge = Path.Combine(_folder.FullName, "huge.png");
        await using (var file = File.Create(huge))
        {
            await file.WriteAsync(first, ct);
            file.SetLength(21L * 1024 * 1024);
        }

        using var form = new MultipartFormDataContent();
        Add(form, "first.png", new ByteArrayContent(first));
        Add(form, "bomb.png", new ByteArrayContent(UploadFiles.PngHeaderClaiming(100_000, 100_000)));
        Add(form, "huge.png", new StreamContent(File.OpenRead(huge)));
        Add(form, "protocol.png", new ByteArrayContent("Fix the plate with 4% PFA for 20 minutes."u8.ToArray()));
        Add(form, "cut.tif", new ByteArrayContent(tiff[..(tiff.Length / 2)]));
        Add(form, "microscope.tif", new ByteArrayContent(tiff));
        Add(form, "second.png", new ByteArrayContent(second));

        using var response = await _client.Http.PostAsync($"/api/projects/{project.Id}/images", form, ct);

        Assert.Equal(HttpStatusCode.Created, response.StatusCode);
        var answer = (await response.Content.ReadFromJsonAsync<UploadAnswer>(ct))!;
        Assert.Equal(["first.png", "microscope.tif", "second.png"], answer.Images.Select(i => i.FileName));
        var stored = answer.Images.Single(i => i.FileName == "microscope.tif");
        Assert.Equal(("tiff", 128, 128, (long)tiff.Length, "none"), (stored.Format, stored.Width, stored.Height, stored.SizeBytes, stored.Status));

        var refusals = answer.Rejected.ToDictionary(r => r.FileName);
        Assert.Equal(["bomb.png", "huge.png", "protocol.png", "cut.tif"], answer.Rejected.Select(r => r.FileName));
        Assert.Equal((422, "Image too large"), (refusals["bomb.png"].Status, refusals["bomb.png"].Title));
        Assert.Contains("100000 × 100000", refusals["bomb.png"].Detail, StringComparison.Ordinal);
        Assert.Equal((413, "File too large"), (refusals["huge.png"].Status, refusals["huge.png"].Title));
        Assert.Contains("20,971,520 bytes", refusals["huge.png"].Detail, StringComparison.Ordinal);
        Assert.Equal((415, "Unsupported file type"), (refusals["protocol.png"].Status, refusals["protocol.png"].Title));
        Assert.Contains("not a PNG, JPEG, BMP or TIFF", refusals["protocol.png"].Detail, StringComparison.Ordinal);
        Assert.Equal((422, "Unreadable image"), (refusals["cut.tif"].Status, refusals["cut.tif"].Title));
        Assert.Contains("cut off", refusals["cut.tif"].Detail, StringComparison.Ordinal);
        Assert.All(answer.Rejected, r => Assert.Equal(r.Detail, r.Reason));

        // Postgres holds exactly the three good files, byte for byte.
        await using var scope = _stack.Api.Services.CreateAsyncScope();
        var db = scope.ServiceProvider.GetRequiredService<CellSegDbContext>();
        var rows = await db.Images.AsNoTracking()
            .Where(i => i.ProjectId == project.Id)
            .OrderBy(i => i.FileName)
            .Select(i => new { i.FileName, i.Format, i.Width, i.Height, i.SizeBytes, i.Content!.Data })
            .ToListAsync(ct);
        Assert.Equal(["first.png", "microscope.tif", "second.png"], rows.Select(r => r.FileName));
        Assert.Equal(first, rows[0].Data);
        Assert.Equal(tiff, rows[1].Data);
        Assert.Equal(second, rows[2].Data);
        Assert.Equal(("png", 120, 80, (long)first.Length), (rows[0].Format, rows[0].Width, rows[0].Height, rows[0].SizeBytes));
    }

    [Fact]
    public async Task FilesBeyondTheLimitPerRequestAreRefusedAndTheFirstOnesStored()
    {
        var ct = TestContext.Current.CancellationToken;
        var project = await _client.CreateProjectAsync("Too many", ct);
        using var form = new MultipartFormDataContent();
        for (var i = 0; i < MaxFilesPerRequest + 2; i++)
        {
            Add(form, $"{i:D2}.png", new ByteArrayContent(ProjectsApiTests.Png(16 + i, 16)));
        }

        using var response = await _client.Http.PostAsync($"/api/projects/{project.Id}/images", form, ct);

        Assert.Equal(HttpStatusCode.Created, response.StatusCode);
        var answer = (await response.Content.ReadFromJsonAsync<UploadAnswer>(ct))!;
        Assert.Equal(Enumerable.Range(0, MaxFilesPerRequest).Select(i => $"{i:D2}.png"), answer.Images.Select(i => i.FileName));
        Assert.Equal(["08.png", "09.png"], answer.Rejected.Select(r => r.FileName));
        Assert.All(answer.Rejected, r => Assert.Equal(("Too many files", 400), (r.Title, r.Status)));
        Assert.Equal(MaxFilesPerRequest, (await _client.ListImagesAsync(project.Id, ct)).Count);
    }

    [Fact]
    public async Task RequestWithoutAGoodFileIsABadRequestListingEveryRefusal()
    {
        var ct = TestContext.Current.CancellationToken;
        var project = await _client.CreateProjectAsync("Nothing good", ct);
        using var form = new MultipartFormDataContent();
        Add(form, "empty.png", new ByteArrayContent([]));
        Add(form, "bomb.png", new ByteArrayContent(UploadFiles.PngHeaderClaiming(100_000, 100_000)));
        form.Add(new StringContent("a note, not a file"), "comment");

        using var response = await _client.Http.PostAsync($"/api/projects/{project.Id}/images", form, ct);

        var problem = await ProjectsApiTests.AssertProblemAsync(response, HttpStatusCode.BadRequest);
        Assert.Equal("No image accepted", problem.Title);
        var rejected = ((JsonElement)problem.Extensions["rejected"]!).Deserialize<List<Refusal>>(JsonSerializerOptions.Web)!;
        Assert.Equal([("empty.png", "Empty file", 400), ("bomb.png", "Image too large", 422)], rejected.Select(r => (r.FileName, r.Title, r.Status)));
        Assert.Empty(await _client.ListImagesAsync(project.Id, ct));

        using var fieldsOnly = new MultipartFormDataContent { { new StringContent("no files here"), "comment" } };
        using var noFiles = await _client.Http.PostAsync($"/api/projects/{project.Id}/images", fieldsOnly, ct);
        Assert.Equal("No files", (await ProjectsApiTests.AssertProblemAsync(noFiles, HttpStatusCode.BadRequest)).Title);

        using var json = await _client.Http.PostAsJsonAsync($"/api/projects/{project.Id}/images", new { files = "first.png" }, ct);
        await ProjectsApiTests.AssertProblemAsync(json, HttpStatusCode.UnsupportedMediaType);

        using var noBoundary = new ByteArrayContent(ProjectsApiTests.Png(8, 8));
        noBoundary.Headers.ContentType = new MediaTypeHeaderValue("multipart/form-data");
        using var unreadable = await _client.Http.PostAsync($"/api/projects/{project.Id}/images", noBoundary, ct);
        Assert.Equal("Not a multipart form", (await ProjectsApiTests.AssertProblemAsync(unreadable, HttpStatusCode.BadRequest)).Title);
        Assert.Empty(await _client.ListImagesAsync(project.Id, ct));
    }

    private static void Add(MultipartFormDataContent form, string fileName, HttpContent content)
    {
        content.Headers.ContentType = new MediaTypeHeaderValue("application/octet-stream");
        form.Add(content, "files", fileName);
    }

    public async ValueTask DisposeAsync()
    {
        await _stack.DisposeAsync();
        _folder.Delete(recursive: true);
    }
}
