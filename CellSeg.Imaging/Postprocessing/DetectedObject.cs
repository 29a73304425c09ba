using CellSeg.Imaging.Geometry;
using CellSeg.Imaging.Metrics;

namespace CellSeg.Imaging.Postprocessing;

/// <summary>
/// One polygon found in a probability map. Ids are unique within one result and start at 1; an internal polygon's
/// <see cref="ParentId"/> is the id of the external polygon it lies in. <see cref="Confidence"/> is the mean
/// probability over the object's foreground pixels (internal polygons carry their parent's value).
/// <see cref="Metrics"/> is set for external polygons only and already accounts for their holes.
/// </summary>
public sealed record DetectedObject(
    int Id,
    ObjectKind Kind,
    int? ParentId,
    IReadOnlyList<PolygonPoint> Points,
    double Confidence,
    ObjectMetrics? Metrics);
