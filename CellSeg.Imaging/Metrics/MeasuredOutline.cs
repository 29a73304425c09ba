using CellSeg.Imaging.Geometry;

namespace CellSeg.Imaging.Metrics;

/// <summary>
/// The outline that lengths and convexity are measured on: the external ring simplified with Douglas–Peucker at
/// <see cref="Tolerance"/> pixels. A pixel-edge contour is a staircase whose length overestimates a circle's
/// perimeter by 4/π whatever the resolution; simplifying it replaces each staircase by the chords through its
/// corners. Measured on digitised shapes this keeps perimeters of disks with radius ≥ 20 px within 0.5%, of
/// ellipses and rotated rectangles within about 1%, and of axis-aligned rectangles exact (their corners are far
/// from any chord). Hand-drawn polygons keep every vertex more than 2 px off the simplified outline, so they are
/// measured essentially as drawn.
/// </summary>
internal static class MeasuredOutline
{
    public const double Tolerance = 2.0;

    public static IReadOnlyList<PolygonPoint> Of(IReadOnlyList<PolygonPoint> ring)
    {
        // A sliver thinner than the tolerance can simplify to a flat ring; it is then measured as it is.
        var simplified = PolygonSimplifier.Simplify(ring, Tolerance);
        return PolygonRing.SignedArea(simplified) != 0 ? simplified : ring;
    }
}
