using System.Globalization;
using System.IO.Compression;
using System.Net;
using System.Text.Json;
using CellSeg.Data;
using CellSeg.LoadGen;
using Microsoft.EntityFrameworkCore;
using Microsoft.Extensions.DependencyInjection;

namespace CellSeg.FunctionalTests;

/// <summary>The project export: a streamed ZIP with COCO, raw annotations and metrics of real segmentations.</summary>
public sealed class ExportTests(StoresFixture stores) : IAsyncLifetime
{
    private CellSegStack _stack = null!;
    private CellSegApiClient _client = null!;

    public async ValueTask InitializeAsync()
    {
        var ct = TestContext.Current.CancellationToken;
        _stack = await CellSegStack.StartAsync(await stores.CreateDatabaseAsync(ct), stores.Redis.ConnectionString, ct);
        _client = await _stack.SignInAsync("export@cellseg.test", ct);
    }

    [Fact]
    public async Task ExportOfASegmentedProjectHoldsCocoWithTheStoredAreasAnnotationsAndMetrics()
    {
        var ct = TestContext.Current.CancellationToken;
        var project = await _client.CreateProjectAsync("Export me", ct);
        var upload = await _client.UploadAsync(
            project.Id,
            [
                ("single-spheroid.png", await File.ReadAllBytesAsync(ProjectsApiTests.Asset("single-spheroid.png"), ct)),
                ("ring-spheroid.png", await File.ReadAllBytesAsync(ProjectsApiTests.Asset("ring-spheroid.png"), ct)),
                ("blank.png", ProjectsApiTests.Png(64, 48)),
            ],
            ct);
        var (single, ring, blank) = (upload.Images[0], upload.Images[1], upload.Images[2]);
        await _client.RequestBatchSegmentationAsync(project.Id, [single.Id, ring.Id], "hrnet", ct);
        await CellSegStack.WaitUntilAsync(
            async () => (await _client.ListImagesAsync(project.Id, ct)).Count(i => i.Status is "segmented" or "failed") == 2,
            TimeSpan.FromSeconds(120),
            "both images to be segmented");
        Assert.All((await _client.ListImagesAsync(project.Id, ct)).Where(i => i.Id != blank.Id), i => Assert.Equal("segmented", i.Status));
        var stored = await StoredObjectsAsync([single.Id, ring.Id], ct);

        using var response = await _client.Http.GetAsync($"/api/projects/{project.Id}/export", HttpCompletionOption.ResponseHeadersRead, ct);

        Assert.Equal(HttpStatusCode.OK, response.StatusCode);
        Assert.Equal("application/zip", response.Content.Headers.ContentType?.MediaType);
        Assert.Equal("Export_me-export.zip", response.Content.Headers.ContentDisposition?.FileName?.Trim('"'));
        using var zip = await OpenZipAsync(response, ct);
        Assert.Equal(
            ["README.txt", "annotations/annotations.json", "annotations/coco.json", "metrics/metrics.csv", "metrics/metrics.json"],
            zip.Entries.Select(e => e.FullName).Order(StringComparer.Ordinal));
        Assert.Contains("hole", ReadText(zip, "README.txt"), StringComparison.Ordinal);

        // COCO: every image, one annotation per external object with its holes as further rings.
        using var coco = JsonDocument.Parse(ReadText(zip, "annotations/coco.json"));
        var images = coco.RootElement.GetProperty("images").EnumerateArray().ToList();
        Assert.Equal(["single-spheroid.png", "ring-spheroid.png", "blank.png"], images.Select(i => i.GetProperty("file_name").GetString()));
        Assert.Equal((512, 512), (images[0].GetProperty("width").GetInt32(), images[0].GetProperty("height").GetInt32()));
        Assert.Equal((64, 48), (images[2].GetProperty("width").GetInt32(), images[2].GetProperty("height").GetInt32()));
        var imageById = images.ToDictionary(i => i.GetProperty("id").GetInt32(), i => Guid.Parse(i.GetProperty("cellseg_id").GetString()!));
        var category = Assert.Single(coco.RootElement.GetProperty("categories").EnumerateArray());
        Assert.Equal((1, "spheroid"), (category.GetProperty("id").GetInt32(), category.GetProperty("name").GetString()));

        var annotations = coco.RootElement.GetProperty("annotations").EnumerateArray().ToList();
        var externals = stored.SelectMany(s => s.Value.Where(o => o.GetProperty("kind").GetString() == "external").Select(o => (s.Key, o))).ToList();
        Assert.Equal(externals.Count, annotations.Count);
        Assert.True(annotations.Count >= 2);
        Assert.Equal(annotations.Count, annotations.Select(a => a.GetProperty("id").GetInt32()).Distinct().Count());
        var holesSeen = 0;
        foreach (var annotation in annotations)
        {
            var imageId = imageById[annotation.GetProperty("image_id").GetInt32()];
            var objectId = annotation.GetProperty("cellseg_object_id").GetInt32();
            var objects = stored[imageId];
            var external = objects.Single(o => o.GetProperty("id").GetInt32() == objectId);
            var metrics = external.GetProperty("metrics");
            Assert.Equal(1, annotation.GetProperty("category_id").GetInt32());
            Assert.Equal(0, annotation.GetProperty("iscrowd").GetInt32());
            Assert.Equal(metrics.GetProperty("area").GetDouble(), annotation.GetProperty("area").GetDouble(), 1e-6);

            var rings = annotation.GetProperty("segmentation").EnumerateArray().ToList();
            var holes = objects.Where(o => o.GetProperty("kind").GetString() == "internal" && o.GetProperty("parentId").GetInt32() == objectId).ToList();
            Assert.Equal(1 + holes.Count, rings.Count);
            holesSeen += holes.Count;
            Assert.Equal(Flatten(external), rings[0].EnumerateArray().Select(v => v.GetDouble()));
            for (var h = 0; h < holes.Count; h++)
            {
                Assert.Equal(Flatten(holes[h]), rings[h + 1].EnumerateArray().Select(v => v.GetDouble()));
            }

            var box = metrics.GetProperty("boundingBox");
            var bbox = annotation.GetProperty("bbox").EnumerateArray().Select(v => v.GetDouble()).ToArray();
            Assert.Equal(
                [box.GetProperty("x").GetDouble(), box.GetProperty("y").GetDouble(), box.GetProperty("width").GetDouble(), box.GetProperty("height").GetDouble()],
                bbox);

            // As a COCO reader takes it: rings of at least three x,y pairs inside the box, an area the box can hold.
            Assert.All(rings, ring =>
            {
                var xy = ring.EnumerateArray().Select(v => v.GetDouble()).ToArray();
                Assert.True(xy.Length >= 6 && xy.Length % 2 == 0, $"A ring of {xy.Length} numbers.");
                Assert.All(xy.Where((_, i) => i % 2 == 0), x => Assert.InRange(x, bbox[0], bbox[0] + bbox[2]));
                Assert.All(xy.Where((_, i) => i % 2 == 1), y => Assert.InRange(y, bbox[1], bbox[1] + bbox[3]));
            });
            Assert.InRange(annotation.GetProperty("area").GetDouble(), 1, bbox[2] * bbox[3]);
        }

        Assert.True(holesSeen >= 1, "The ring spheroid's hole is exported as a second ring.");

        // The raw objects per image, as stored; null for the image never segmented.
        using var raw = JsonDocument.Parse(ReadText(zip, "annotations/annotations.json"));
        var rawImages = raw.RootElement.EnumerateArray().ToDictionary(i => i.GetProperty("imageId").GetGuid());
        Assert.Equal(JsonValueKind.Null, rawImages[blank.Id].GetProperty("objects").ValueKind);
        Assert.Equal(stored[ring.Id].Count, rawImages[ring.Id].GetProperty("objects").GetArrayLength());

        // Metrics: one row per external object, in pixels without a scale.
        var csv = ReadText(zip, "metrics/metrics.csv").Split("\r\n", StringSplitOptions.RemoveEmptyEntries);
        var header = csv[0].Split(',');
        Assert.Equal(externals.Count, csv.Length - 1);
        foreach (var (imageId, external) in externals)
        {
            var row = csv.Skip(1).Select(r => r.Split(',')).Single(r => r[0] == imageId.ToString() && r[2] == external.GetProperty("id").GetInt32().ToString(CultureInfo.InvariantCulture));
            Assert.Equal(external.GetProperty("metrics").GetProperty("area").GetDouble(), double.Parse(row[Array.IndexOf(header, "area")], CultureInfo.InvariantCulture), 1e-6);
            Assert.Equal(external.GetProperty("metrics").GetProperty("circularity").GetDouble(), double.Parse(row[Array.IndexOf(header, "circularity")], CultureInfo.InvariantCulture), 1e-9);
        }

        using var metricsJson = JsonDocument.Parse(ReadText(zip, "metrics/metrics.json"));
        Assert.Equal("px", metricsJson.RootElement.GetProperty("unit").GetString());
        Assert.Equal(externals.Count, metricsJson.RootElement.GetProperty("objects").GetArrayLength());

        // With a scale and a selection: only that image, metrics in µm², COCO still in pixels.
        using var scaled = await _client.Http.GetAsync($"/api/projects/{project.Id}/export?imageIds={single.Id}&scale=0.5", ct);
        Assert.Equal(HttpStatusCode.OK, scaled.StatusCode);
        using var scaledZip = await OpenZipAsync(scaled, ct);
        using var scaledCoco = JsonDocument.Parse(ReadText(scaledZip, "annotations/coco.json"));
        Assert.Equal(["single-spheroid.png"], scaledCoco.RootElement.GetProperty("images").EnumerateArray().Select(i => i.GetProperty("file_name").GetString()));
        var singleArea = stored[single.Id].Single(o => o.GetProperty("kind").GetString() == "external").GetProperty("metrics").GetProperty("area").GetDouble();
        Assert.Equal(singleArea, Assert.Single(scaledCoco.RootElement.GetProperty("annotations").EnumerateArray()).GetProperty("area").GetDouble(), 1e-6);
        using var scaledMetrics = JsonDocument.Parse(ReadText(scaledZip, "metrics/metrics.json"));
        Assert.Equal(0.5, scaledMetrics.RootElement.GetProperty("scale").GetDouble());
        var scaledRow = Assert.Single(scaledMetrics.RootElement.GetProperty("objects").EnumerateArray());
        Assert.Equal(singleArea * 0.25, scaledRow.GetProperty("metrics").GetProperty("area").GetDouble(), 1e-6);
    }

    [Fact]
    public async Task ExportWithABadSelectionOrScaleIsAProblem()
    {
        var ct = TestContext.Current.CancellationToken;
        var project = await _client.CreateProjectAsync("Bad export", ct);
        var other = await _client.CreateProjectAsync("Other", ct);
        var otherImage = Assert.Single((await _client.UploadAsync(other.Id, [("other.png", ProjectsApiTests.Png(32, 32))], ct)).Images);

        foreach (var query in new[] { "imageIds=not-a-guid", $"imageIds={otherImage.Id}", $"imageIds={Guid.NewGuid()}", "scale=0", "scale=-2" })
        {
            using var response = await _client.Http.GetAsync($"/api/projects/{project.Id}/export?{query}", ct);
            await ProjectsApiTests.AssertProblemAsync(response, HttpStatusCode.BadRequest);
        }

        using var unknown = await _client.Http.GetAsync($"/api/projects/{Guid.NewGuid()}/export", ct);
        await ProjectsApiTests.AssertProblemAsync(unknown, HttpStatusCode.NotFound);

        // An empty project exports an empty but valid COCO file.
        using var empty = await _client.Http.GetAsync($"/api/projects/{project.Id}/export", ct);
        using var zip = await OpenZipAsync(empty, ct);
        using var coco = JsonDocument.Parse(ReadText(zip, "annotations/coco.json"));
        Assert.Equal(0, coco.RootElement.GetProperty("images").GetArrayLength());
        Assert.Equal(0, coco.RootElement.GetProperty("annotations").GetArrayLength());
        Assert.Equal(["image_id", "file_name", "object_id"], ReadText(zip, "metrics/metrics.csv").Split(',').Take(3));
    }

    private static IEnumerable<double> Flatten(JsonElement polygon) =>
        polygon.GetProperty("points").EnumerateArray().SelectMany(p => new[] { p.GetProperty("x").GetDouble(), p.GetProperty("y").GetDouble() });

    private static async Task<ZipArchive> OpenZipAsync(HttpResponseMessage response, CancellationToken ct)
    {
        var buffer = new MemoryStream();
        await (await response.Content.ReadAsStreamAsync(ct)).CopyToAsync(buffer, ct);
        buffer.Position = 0;
        return new ZipArchive(buffer, ZipArchiveMode.Read);
    }

    private static string ReadText(ZipArchive zip, string name)
    {
        using var reader = new StreamReader(zip.GetEntry(name)!.Open());
        return reader.ReadToEnd();
    }

    private async Task<Dictionary<Guid, List<JsonElement>>> StoredObjectsAsync(Guid[] imageIds, CancellationToken ct)
    {
        await using var scope = _stack.Api.Services.CreateAsyncScope();
        var db = scope.ServiceProvider.GetRequiredService<CellSegDbContext>();
        var rows = await db.SegmentationResults.AsNoTracking().Where(r => imageIds.Contains(r.ImageId)).ToListAsync(ct);
        return rows.ToDictionary(r => r.ImageId, r => JsonDocument.Parse(r.Objects).RootElement.EnumerateArray().Select(o => o.Clone()).ToList());
    }

    public async ValueTask DisposeAsync() => await _stack.DisposeAsync();
}
