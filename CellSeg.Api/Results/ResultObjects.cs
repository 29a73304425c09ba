using System.Text.Json;
using CellSeg.Imaging.Geometry;
using CellSeg.Imaging.Metrics;

namespace CellSeg.Api.Results;

/// <summary>
/// One object of a stored result, as Inference writes it to <c>SegmentationResult.Objects</c>: an external polygon,
/// or an internal one (a hole) with its parent's id. <see cref="Metrics"/> is set for external objects only.
/// </summary>
public sealed record ResultObject(int Id, string Kind, int? ParentId, IReadOnlyList<PolygonPoint> Points, double Confidence, ObjectMetrics? Metrics)
{
    public const string External = "external";
    public const string Internal = "internal";

    public bool IsExternal => string.Equals(Kind, External, StringComparison.Ordinal);
}

/// <summary>Reads, measures and writes the objects of a stored result with the metric code Inference uses.</summary>
public static class ResultObjects
{
    private static readonly JsonSerializerOptions s_json = new(JsonSerializerDefaults.Web);

    public static IReadOnlyList<ResultObject> Parse(string json) =>
        JsonSerializer.Deserialize<List<ResultObject>>(json, s_json) ?? [];

    public static string Serialize(IReadOnlyList<ResultObject> objects) => JsonSerializer.Serialize(objects, s_json);

    /// <summary>
    /// The objects with the metrics of every external one recomputed from its polygon and its holes, in pixels or, with
    /// <paramref name="scale"/> µm per pixel, in µm and µm²; holes carry no metrics.
    /// </summary>
    public static IReadOnlyList<ResultObject> Measure(IReadOnlyList<ResultObject> objects, double? scale)
    {
        var holes = objects.Where(o => !o.IsExternal && o.ParentId is not null)
            .ToLookup(o => o.ParentId!.Value, o => o.Points);
        return
        [
            .. objects.Select(o => o.IsExternal
                ? o with { Metrics = ObjectMetrics.FromPolygon(o.Points, [.. holes[o.Id]], scale) }
                : o with { Metrics = null }),
        ];
    }

    /// <summary>The holes of an external object.</summary>
    public static IEnumerable<ResultObject> HolesOf(IReadOnlyList<ResultObject> objects, int parentId) =>
        objects.Where(o => !o.IsExternal && o.ParentId == parentId);
}
