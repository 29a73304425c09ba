using System.Globalization;
using System.IO.Compression;
using System.Reflection;
using System.Text;
using System.Text.Json;
using CellSeg.Api.Results;
using CellSeg.Data;
using CellSeg.Imaging.Geometry;
using CellSeg.Imaging.Metrics;
using Microsoft.AspNetCore.Http.Metadata;
using Microsoft.EntityFrameworkCore;
using Microsoft.Net.Http.Headers;

namespace CellSeg.Api.Export;

/// <summary>
/// A project's polygons and metrics as a ZIP written straight to the response body. Each file is one pass over the
/// images, one image (and its latest result) at a time, so an export of thousands of images holds one in memory.
/// </summary>
public sealed class ProjectExport(Guid projectId, string projectName, IReadOnlyList<Guid>? imageIds, double? scale, CellSegDbContext db)
    : IResult, IEndpointMetadataProvider
{
    public const string ContentType = "application/zip";

    private static readonly JsonSerializerOptions s_json = new(JsonSerializerDefaults.Web);

    private static readonly string[] s_metricColumns =
    [
        "area", "perimeter", "equivalent_diameter", "circularity", "feret_max", "feret_min", "feret_aspect_ratio",
        "major_axis", "minor_axis", "bbox_x", "bbox_y", "bbox_width", "bbox_height", "extent", "compactness",
        "convexity", "solidity", "sphericity", "convex_hull_area", "convex_hull_perimeter", "centroid_x", "centroid_y",
    ];

    private sealed record ExportedImage(Guid Id, string FileName, int Width, int Height, string? Objects);

    public string FileName => $"{SafeName(projectName)}-export.zip";

    public static void PopulateMetadata(MethodInfo method, EndpointBuilder builder)
    {
        ArgumentNullException.ThrowIfNull(builder);
        builder.Metadata.Add(new ProducesResponseTypeMetadata(StatusCodes.Status200OK, typeof(Stream), [ContentType]));
    }

    public async Task ExecuteAsync(HttpContext httpContext)
    {
        ArgumentNullException.ThrowIfNull(httpContext);
        var cancellationToken = httpContext.RequestAborted;
        var response = httpContext.Response;
        response.StatusCode = StatusCodes.Status200OK;
        response.ContentType = ContentType;
        response.Headers.ContentDisposition = new ContentDispositionHeaderValue("attachment") { FileName = FileName }.ToString();

        await using var archive = await ZipArchive.CreateAsync(
            response.BodyWriter.AsStream(), ZipArchiveMode.Create, leaveOpen: true, entryNameEncoding: null, cancellationToken);
        await WriteEntryAsync(archive, "README.txt", WriteReadmeAsync, cancellationToken);
        await WriteEntryAsync(archive, "annotations/coco.json", WriteCocoAsync, cancellationToken);
        await WriteEntryAsync(archive, "annotations/annotations.json", WriteAnnotationsAsync, cancellationToken);
        await WriteEntryAsync(archive, "metrics/metrics.csv", WriteMetricsCsvAsync, cancellationToken);
        await WriteEntryAsync(archive, "metrics/metrics.json", WriteMetricsJsonAsync, cancellationToken);
    }

    private static async Task WriteEntryAsync(
        ZipArchive archive, string name, Func<Stream, CancellationToken, Task> write, CancellationToken cancellationToken)
    {
        var entry = archive.CreateEntry(name, CompressionLevel.Fastest);
        await using var stream = await entry.OpenAsync(cancellationToken);
        await write(stream, cancellationToken);
    }

    private IQueryable<Data.Model.Image> Images()
    {
        var images = db.Images.AsNoTracking().Where(i => i.ProjectId == projectId);
        if (imageIds is not null)
        {
            images = images.Where(i => imageIds.Contains(i.Id));
        }

        return images.OrderBy(i => i.CreatedAt).ThenBy(i => i.Id);
    }

    /// <summary>The images with the objects of their latest result (null when not segmented), streamed from Postgres.</summary>
    private IAsyncEnumerable<ExportedImage> ImagesWithObjects() =>
        Images()
            .Select(i => new ExportedImage(
                i.Id,
                i.FileName,
                i.Width,
                i.Height,
                db.SegmentationResults.Where(r => r.ImageId == i.Id).OrderByDescending(r => r.CreatedAt).Select(r => r.Objects).FirstOrDefault()))
            .AsAsyncEnumerable();

    private async Task WriteReadmeAsync(Stream stream, CancellationToken cancellationToken)
    {
        var unit = scale is { } s ? $"micrometres (scale {s.ToString("R", CultureInfo.InvariantCulture)} µm per pixel; areas in µm²)" : "pixels (areas in px²)";
        var text = $$"""
            CellSeg export of project "{{projectName}}" ({{projectId}}), {{DateTimeOffset.UtcNow:u}}

            annotations/coco.json
              COCO object detection format, in pixels, one category (1, "spheroid"). Image ids are numbered from 1 in
              the order of upload; "cellseg_id" on each image is CellSeg's image id. One annotation per external
              object of the image's latest segmentation, with "iscrowd": 0. COCO polygons cannot express holes, so
              "segmentation" lists the external ring first, then one ring per hole of that object; a reader that
              fills every ring would fill the holes, so treat rings after the first as holes. "area" is the object's
              measured area minus its holes (not the area of the filled first ring); "bbox" is [x, y, width, height]
              of the external ring.
            annotations/annotations.json
              The objects of each image's latest segmentation as CellSeg stores them: id, kind ("external" or
              "internal", a hole), parentId (a hole's external object), points [{x, y}], confidence, metrics (in
              pixels, external objects only). "objects" is null for an image not segmented yet.
            metrics/metrics.csv, metrics/metrics.json
              One row per external object with every metric, recomputed from the polygons, in {{unit}}.
              Ratios (circularity, feret_aspect_ratio, extent, compactness, convexity, solidity, sphericity) have
              no unit.
            """;
        await stream.WriteAsync(Encoding.UTF8.GetBytes(text.ReplaceLineEndings("\r\n")), cancellationToken);
    }

    private async Task WriteCocoAsync(Stream stream, CancellationToken cancellationToken)
    {
        await using var json = new Utf8JsonWriter(stream);
        json.WriteStartObject();
        json.WriteStartObject("info");
        json.WriteString("description", $"CellSeg project {projectName}");
        json.WriteString("date_created", DateTimeOffset.UtcNow);
        json.WriteEndObject();

        // Pass one: the images, numbered; pass two: the annotations of each image's latest result.
        var numbers = new Dictionary<Guid, int>();
        json.WriteStartArray("images");
        await foreach (var image in Images().Select(i => new { i.Id, i.FileName, i.Width, i.Height }).AsAsyncEnumerable().WithCancellation(cancellationToken))
        {
            var number = numbers.Count + 1;
            numbers[image.Id] = number;
            json.WriteStartObject();
            json.WriteNumber("id", number);
            json.WriteString("file_name", image.FileName);
            json.WriteNumber("width", image.Width);
            json.WriteNumber("height", image.Height);
            json.WriteString("cellseg_id", image.Id);
            json.WriteEndObject();
            await FlushIfFullAsync(json, cancellationToken);
        }

        json.WriteEndArray();

        var annotationId = 0;
        json.WriteStartArray("annotations");
        await foreach (var image in ImagesWithObjects().WithCancellation(cancellationToken))
        {
            if (image.Objects is null || !numbers.TryGetValue(image.Id, out var imageNumber))
            {
                continue;
            }

            var objects = ResultObjects.Measure(ResultObjects.Parse(image.Objects), scale: null);
            foreach (var external in objects.Where(o => o.IsExternal))
            {
                var metrics = external.Metrics!;
                json.WriteStartObject();
                json.WriteNumber("id", ++annotationId);
                json.WriteNumber("image_id", imageNumber);
                json.WriteNumber("category_id", 1);
                json.WriteStartArray("segmentation");
                WriteRing(json, external.Points);
                foreach (var hole in ResultObjects.HolesOf(objects, external.Id))
                {
                    WriteRing(json, hole.Points);
                }

                json.WriteEndArray();
                json.WriteNumber("area", metrics.Area);
                json.WriteStartArray("bbox");
                json.WriteNumberValue(metrics.BoundingBox.X);
                json.WriteNumberValue(metrics.BoundingBox.Y);
                json.WriteNumberValue(metrics.BoundingBox.Width);
                json.WriteNumberValue(metrics.BoundingBox.Height);
                json.WriteEndArray();
                json.WriteNumber("iscrowd", 0);
                json.WriteNumber("score", external.Confidence);
                json.WriteNumber("cellseg_object_id", external.Id);
                json.WriteEndObject();
            }

            await json.FlushAsync(cancellationToken);
        }

        json.WriteEndArray();
        json.WriteStartArray("categories");
        json.WriteStartObject();
        json.WriteNumber("id", 1);
        json.WriteString("name", "spheroid");
        json.WriteString("supercategory", "object");
        json.WriteEndObject();
        json.WriteEndArray();
        json.WriteEndObject();
    }

    private async Task WriteAnnotationsAsync(Stream stream, CancellationToken cancellationToken)
    {
        await using var json = new Utf8JsonWriter(stream);
        json.WriteStartArray();
        await foreach (var image in ImagesWithObjects().WithCancellation(cancellationToken))
        {
            json.WriteStartObject();
            json.WriteString("imageId", image.Id);
            json.WriteString("fileName", image.FileName);
            json.WriteNumber("width", image.Width);
            json.WriteNumber("height", image.Height);
            json.WritePropertyName("objects");
            if (image.Objects is null)
            {
                json.WriteNullValue();
            }
            else
            {
                json.WriteRawValue(image.Objects);
            }

            json.WriteEndObject();
            await json.FlushAsync(cancellationToken);
        }

        json.WriteEndArray();
    }

    private async Task WriteMetricsCsvAsync(Stream stream, CancellationToken cancellationToken)
    {
        await using var csv = new StreamWriter(stream, new UTF8Encoding(encoderShouldEmitUTF8Identifier: false), leaveOpen: true);
        await csv.WriteAsync($"image_id,file_name,object_id,confidence,hole_count,{string.Join(',', s_metricColumns)}\r\n");
        await foreach (var (image, external, holes) in MeasuredObjectsAsync(cancellationToken))
        {
            var row = new StringBuilder();
            row.Append(CultureInfo.InvariantCulture, $"{image.Id},{CsvField(image.FileName)},{external.Id},{Number(external.Confidence)},{holes}");
            foreach (var value in MetricValues(external.Metrics!))
            {
                row.Append(',').Append(Number(value));
            }

            await csv.WriteAsync(row.Append("\r\n").ToString().AsMemory(), cancellationToken);
        }
    }

    private async Task WriteMetricsJsonAsync(Stream stream, CancellationToken cancellationToken)
    {
        await using var json = new Utf8JsonWriter(stream);
        json.WriteStartObject();
        if (scale is { } s)
        {
            json.WriteNumber("scale", s);
        }
        else
        {
            json.WriteNull("scale");
        }

        json.WriteString("unit", scale is null ? "px" : "µm");
        json.WriteStartArray("objects");
        await foreach (var (image, external, holes) in MeasuredObjectsAsync(cancellationToken))
        {
            json.WriteStartObject();
            json.WriteString("imageId", image.Id);
            json.WriteString("fileName", image.FileName);
            json.WriteNumber("objectId", external.Id);
            json.WriteNumber("confidence", external.Confidence);
            json.WriteNumber("holeCount", holes);
            json.WritePropertyName("metrics");
            JsonSerializer.Serialize(json, external.Metrics, s_json);
            json.WriteEndObject();
            await FlushIfFullAsync(json, cancellationToken);
        }

        json.WriteEndArray();
        json.WriteEndObject();
    }

    /// <summary>Every external object of every exported image, measured at the export's scale, with its number of holes.</summary>
    private async IAsyncEnumerable<(ExportedImage Image, ResultObject External, int Holes)> MeasuredObjectsAsync(
        [System.Runtime.CompilerServices.EnumeratorCancellation] CancellationToken cancellationToken)
    {
        await foreach (var image in ImagesWithObjects().WithCancellation(cancellationToken))
        {
            if (image.Objects is null)
            {
                continue;
            }

            var objects = ResultObjects.Measure(ResultObjects.Parse(image.Objects), scale);
            foreach (var external in objects.Where(o => o.IsExternal))
            {
                yield return (image, external, ResultObjects.HolesOf(objects, external.Id).Count());
            }
        }
    }

    private static IEnumerable<double> MetricValues(ObjectMetrics m) =>
    [
        m.Area, m.Perimeter, m.EquivalentDiameter, m.Circularity, m.FeretMax, m.FeretMin, m.FeretAspectRatio,
        m.MajorAxis, m.MinorAxis, m.BoundingBox.X, m.BoundingBox.Y, m.BoundingBox.Width, m.BoundingBox.Height, m.Extent,
        m.Compactness, m.Convexity, m.Solidity, m.Sphericity, m.ConvexHullArea, m.ConvexHullPerimeter, m.CentroidX, m.CentroidY,
    ];

    private static void WriteRing(Utf8JsonWriter json, IReadOnlyList<PolygonPoint> ring)
    {
        json.WriteStartArray();
        foreach (var point in ring)
        {
            json.WriteNumberValue(point.X);
            json.WriteNumberValue(point.Y);
        }

        json.WriteEndArray();
    }

    private static async Task FlushIfFullAsync(Utf8JsonWriter json, CancellationToken cancellationToken)
    {
        if (json.BytesPending > 64 * 1024)
        {
            await json.FlushAsync(cancellationToken);
        }
    }

    private static string Number(double value) => value.ToString("R", CultureInfo.InvariantCulture);

    private static string CsvField(string text) =>
        text.IndexOfAny([',', '"', '\r', '\n']) < 0 ? text : $"\"{text.Replace("\"", "\"\"", StringComparison.Ordinal)}\"";

    private static string SafeName(string name)
    {
        var safe = new string([.. name.Select(c => char.IsAsciiLetterOrDigit(c) || c is '-' or '_' ? c : '_')]).Trim('_');
        return safe.Length == 0 ? "project" : safe[..Math.Min(safe.Length, 80)];
    }
}
