using CellSeg.Imaging.Geometry;

namespace CellSeg.Imaging.Metrics;

/// <summary>
/// Shape measurements of one object: an external polygon minus its holes. Lengths are in pixels, or micrometres
/// when a scale is given (areas then in µm²). All values are functions of the polygons alone, so metrics computed
/// at detection time and after a person edits a polygon agree.
/// </summary>
/// <param name="Area">Area of the external polygon minus the areas of its holes.</param>
/// <param name="Perimeter">
/// Length of the measured outline: the external ring simplified with Douglas–Peucker at 2 px, which removes pixel
/// staircases (see <see cref="MeasuredOutline"/>).
/// </param>
/// <param name="EquivalentDiameter">Diameter of the disk with the same area: 2√(A / π).</param>
/// <param name="Circularity">4πA / P², at most 1 (1 for a disk, π/4 for a square).</param>
/// <param name="FeretMax">
/// Largest caliper diameter: the diameter of the convex hull of the external polygon itself (not of the measured
/// outline, whose chords cut up to 2 px into the pixel region).
/// </param>
/// <param name="FeretMin">Smallest caliper diameter: the minimum width of that convex hull.</param>
/// <param name="FeretAspectRatio">FeretMax / FeretMin.</param>
/// <param name="MajorAxis">Major axis length of the ellipse with the same second moments as the region (holes excluded).</param>
/// <param name="MinorAxis">Minor axis length of that ellipse.</param>
/// <param name="BoundingBox">Axis-aligned bounds of the external polygon.</param>
/// <param name="Extent">Area / bounding-box area.</param>
/// <param name="Compactness">EquivalentDiameter / FeretMax (1 for a disk), as in Russ, The Image Processing Handbook.</param>
/// <param name="Convexity">Convex hull perimeter / perimeter, at most 1 (1 for a convex shape).</param>
/// <param name="Solidity">
/// (Area of the measured outline − area of the holes) / convex hull area, at most 1 (1 for a convex shape without
/// holes). Taking both areas from the measured outline keeps a digitised disk at 1 rather than at the ratio of its
/// pixel area to the hull of its staircase corners.
/// </param>
/// <param name="Sphericity">MinorAxis / MajorAxis of the moment ellipse: 1 for a disk, towards 0 for elongated shapes.</param>
/// <param name="ConvexHullArea">Area of the convex hull of the measured outline.</param>
/// <param name="ConvexHullPerimeter">Perimeter of that convex hull.</param>
/// <param name="CentroidX">X of the region's centroid (holes excluded).</param>
/// <param name="CentroidY">Y of the region's centroid (holes excluded).</param>
public sealed record ObjectMetrics(
    double Area,
    double Perimeter,
    double EquivalentDiameter,
    double Circularity,
    double FeretMax,
    double FeretMin,
    double FeretAspectRatio,
    double MajorAxis,
    double MinorAxis,
    BoundingBox BoundingBox,
    double Extent,
    double Compactness,
    double Convexity,
    double Solidity,
    double Sphericity,
    double ConvexHullArea,
    double ConvexHullPerimeter,
    double CentroidX,
    double CentroidY)
{
    /// <summary>
    /// Measures an external polygon and its holes, as produced by post-processing or edited by hand. Rings may be
    /// given in either orientation, and may repeat their first vertex at the end. Run
    /// <see cref="PolygonValidator"/> first on untrusted input: this throws <see cref="ArgumentException"/> for rings
    /// with fewer than 3 distinct vertices, non-finite coordinates or zero area.
    /// </summary>
    /// <param name="external">The outer boundary, in pixel coordinates.</param>
    /// <param name="holes">Boundaries of holes inside it; null or empty for none.</param>
    /// <param name="scale">Micrometres per pixel; null measures in pixels.</param>
    public static ObjectMetrics FromPolygon(
        IReadOnlyList<PolygonPoint> external, IReadOnlyList<IReadOnlyList<PolygonPoint>>? holes = null, double? scale = null)
    {
        ArgumentNullException.ThrowIfNull(external);
        if (scale is { } s && !(s > 0 && double.IsFinite(s)))
        {
            throw new ArgumentOutOfRangeException(nameof(scale), scale, "The scale must be a positive number of micrometres per pixel.");
        }

        var outer = PolygonRing.Normalise(external, nameof(external));

        // Moments are taken about the first vertex so that squares of large image coordinates do not swamp them.
        var origin = outer[0];
        var outerMoments = RegionMoments.Of(outer, origin);
        var moments = outerMoments;
        foreach (var hole in holes ?? [])
        {
            moments -= RegionMoments.Of(PolygonRing.Normalise(hole, nameof(holes)), origin);
        }

        var area = moments.Area;
        if (!(area > 0))
        {
            throw new ArgumentException("The holes cover the whole external polygon, leaving no area.", nameof(holes));
        }

        var holesArea = outerMoments.Area - area;
        var outline = MeasuredOutline.Of(outer);
        var perimeter = PolygonRing.Length(outline);
        var hull = ConvexHull.Of(outline);
        var hullArea = Math.Abs(PolygonRing.SignedArea(hull));
        var hullPerimeter = PolygonRing.Length(hull);
        var (feretMax, feretMin) = ConvexHull.FeretDiameters(ConvexHull.Of(outer));
        var (major, minor) = moments.EllipseAxes();

        double minX = double.MaxValue, minY = double.MaxValue, maxX = double.MinValue, maxY = double.MinValue;
        foreach (var point in outer)
        {
            minX = Math.Min(minX, point.X);
            minY = Math.Min(minY, point.Y);
            maxX = Math.Max(maxX, point.X);
            maxY = Math.Max(maxY, point.Y);
        }

        var equivalentDiameter = 2 * Math.Sqrt(area / Math.PI);
        var k = scale ?? 1;
        return new ObjectMetrics(
            Area: area * k * k,
            Perimeter: perimeter * k,
            EquivalentDiameter: equivalentDiameter * k,
            Circularity: Math.Min(1, 4 * Math.PI * area / (perimeter * perimeter)),
            FeretMax: feretMax * k,
            FeretMin: feretMin * k,
            FeretAspectRatio: feretMax / feretMin,
            MajorAxis: major * k,
            MinorAxis: minor * k,
            BoundingBox: new BoundingBox(minX * k, minY * k, (maxX - minX) * k, (maxY - minY) * k),
            Extent: area / ((maxX - minX) * (maxY - minY)),
            Compactness: Math.Min(1, equivalentDiameter / feretMax),
            Convexity: Math.Min(1, hullPerimeter / perimeter),
            Solidity: Math.Min(1, (Math.Abs(PolygonRing.SignedArea(outline)) - holesArea) / hullArea),
            Sphericity: major > 0 ? minor / major : 0,
            ConvexHullArea: hullArea * k * k,
            ConvexHullPerimeter: hullPerimeter * k,
            CentroidX: (origin.X + moments.CentroidX) * k,
            CentroidY: (origin.Y + moments.CentroidY) * k);
    }
}
