using CellSeg.Imaging.Geometry;
using CellSeg.Imaging.Metrics;

namespace CellSeg.Imaging.Postprocessing;

/// <summary>Turns a model's probability map into object polygons, with holes, confidences and metrics.</summary>
public static class ObjectExtractor
{
    /// <summary>
    /// Resizes the <paramref name="mapWidth"/> × <paramref name="mapHeight"/> probability map (row-major) to the
    /// original <paramref name="imageWidth"/> × <paramref name="imageHeight"/> bilinearly with half-pixel centres,
    /// thresholds it, and returns one external polygon per kept 8-connected foreground component followed by an
    /// internal polygon per kept hole (4-connected background not connected to the image border). Objects come in
    /// raster order of their top-left pixel. Polygons follow pixel edges (see <see cref="PolygonPoint"/>), so before
    /// simplification a polygon's area is exactly its pixel count. A component inside a filled hole is part of the
    /// filled object rather than an object of its own.
    /// </summary>
    public static IReadOnlyList<DetectedObject> Extract(
        ReadOnlySpan<float> probabilities,
        int mapWidth,
        int mapHeight,
        int imageWidth,
        int imageHeight,
        PostProcessingOptions? options = null)
    {
        options ??= PostProcessingOptions.Default;
        ArgumentOutOfRangeException.ThrowIfNegativeOrZero(mapWidth);
        ArgumentOutOfRangeException.ThrowIfNegativeOrZero(mapHeight);
        ArgumentOutOfRangeException.ThrowIfNegativeOrZero(imageWidth);
        ArgumentOutOfRangeException.ThrowIfNegativeOrZero(imageHeight);
        if (probabilities.Length < (long)mapWidth * mapHeight)
        {
            throw new ArgumentException(
                $"The probability map holds {probabilities.Length} values; {(long)mapWidth * mapHeight} are needed for {mapWidth} × {mapHeight}.",
                nameof(probabilities));
        }

        if ((long)(imageWidth + 2) * (imageHeight + 2) > Array.MaxLength)
        {
            throw new ArgumentException($"An image of {imageWidth} × {imageHeight} pixels is too large to post-process.", nameof(imageWidth));
        }

        using var labelling = ComponentLabelling.Run(probabilities, mapWidth, mapHeight, imageWidth, imageHeight, options.Threshold);
        var nesting = ComponentNesting.Resolve(labelling, options);
        return BuildObjects(labelling, nesting, options);
    }

    private static List<DetectedObject> BuildObjects(ComponentLabelling labelling, ComponentNesting nesting, PostProcessingOptions options)
    {
        var objects = new List<DetectedObject>();
        var mask = labelling.Mask;
        var width = labelling.Width;
        var holes = new List<IReadOnlyList<PolygonPoint>>();
        foreach (var component in nesting.Objects)
        {
            var first = labelling.Foreground.FirstPixel[component.Label];
            var external = Simplify(BoundaryTracer.TraceExternal(mask, labelling.Stride, first % width, first / width), options);
            var id = objects.Count + 1;
            holes.Clear();
            foreach (var hole in component.Holes)
            {
                var holeFirst = labelling.Background.FirstPixel[hole];
                holes.Add(Simplify(BoundaryTracer.TraceHole(mask, labelling.Stride, holeFirst % width, holeFirst / width), options));
            }

            var metrics = ObjectMetrics.FromPolygon(external, holes, options.Scale);
            objects.Add(new DetectedObject(id, ObjectKind.External, null, external, component.Confidence, metrics));
            foreach (var hole in holes)
            {
                objects.Add(new DetectedObject(objects.Count + 1, ObjectKind.Internal, id, hole, component.Confidence, null));
            }
        }

        return objects;
    }

    private static IReadOnlyList<PolygonPoint> Simplify(List<PolygonPoint> ring, PostProcessingOptions options) =>
        options.SimplifyTolerance > 0 ? PolygonSimplifier.Simplify(ring, options.SimplifyTolerance) : ring;
}
