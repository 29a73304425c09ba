namespace CellSeg.Imaging.Geometry;

/// <summary>
/// A polygon vertex in original-image pixel coordinates: x to the right, y down, (0, 0) the top-left corner of the
/// top-left pixel, so pixel (i, j) covers [i, i + 1] × [j, j + 1].
/// </summary>
public readonly record struct PolygonPoint(double X, double Y);
