namespace CellSeg.Imaging.Metrics;

/// <summary>Axis-aligned bounds of a polygon, in the same unit as the other lengths of its metrics.</summary>
public sealed record BoundingBox(double X, double Y, double Width, double Height);
