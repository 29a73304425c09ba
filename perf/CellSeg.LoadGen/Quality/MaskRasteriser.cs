using CellSeg.Imaging.Geometry;
using CellSeg.Imaging.Postprocessing;

namespace CellSeg.LoadGen.Quality;

/// <summary>
/// Turns extracted polygons back into pixels, so that what is scored is what the service returns rather than the
/// map it thresholded. Vertices sit on pixel corners (<see cref="PolygonPoint"/>), so pixel (i, j) belongs to a
/// polygon when its centre (i + 0.5, j + 0.5) is inside; an object is filled even-odd over its external ring and its
/// internal rings, which leaves its holes empty.
/// </summary>
public static class MaskRasteriser
{
    /// <summary>
    /// A label per pixel: 0 for background, k for the k-th external object of <paramref name="objects"/> (with its
    /// holes cut out). Returns the number of external objects as well.
    /// </summary>
    public static (int[] Labels, int Count) LabelObjects(IReadOnlyList<DetectedObject> objects, int width, int height)
    {
        ArgumentNullException.ThrowIfNull(objects);
        var labels = new int[width * height];
        var holesByParent = objects
            .Where(o => o.Kind == ObjectKind.Internal && o.ParentId is not null)
            .ToLookup(o => o.ParentId!.Value, o => o.Points);
        var count = 0;
        var rings = new List<IReadOnlyList<PolygonPoint>>();
        foreach (var external in objects.Where(o => o.Kind == ObjectKind.External))
        {
            count++;
            rings.Clear();
            rings.Add(external.Points);
            rings.AddRange(holesByParent[external.Id]);
            Fill(rings, width, height, labels, count);
        }

        return (labels, count);
    }

    /// <summary>Writes <paramref name="value"/> into every pixel whose centre is inside <paramref name="rings"/> under the even-odd rule.</summary>
    public static void Fill(IReadOnlyList<IReadOnlyList<PolygonPoint>> rings, int width, int height, Span<int> target, int value)
    {
        ArgumentNullException.ThrowIfNull(rings);
        var (top, bottom) = RowRange(rings, height);
        var crossings = new List<double>();
        for (var row = top; row < bottom; row++)
        {
            var y = row + 0.5;
            crossings.Clear();
            foreach (var ring in rings)
            {
                for (int i = 0, j = ring.Count - 1; i < ring.Count; j = i++)
                {
                    var a = ring[j];
                    var b = ring[i];

                    // Half-open in y, so a vertex on the scan line counts once and horizontal edges never.
                    if ((a.Y <= y) != (b.Y <= y))
                    {
                        crossings.Add(a.X + ((y - a.Y) / (b.Y - a.Y) * (b.X - a.X)));
                    }
                }
            }

            crossings.Sort();
            var line = target.Slice(row * width, width);
            for (var k = 0; k + 1 < crossings.Count; k += 2)
            {
                // Centres i + 0.5 strictly between the two crossings.
                var first = Math.Max(0, (int)Math.Ceiling(crossings[k] - 0.5));
                var last = Math.Min(width, (int)Math.Ceiling(crossings[k + 1] - 0.5));
                if (first < last)
                {
                    line[first..last].Fill(value);
                }
            }
        }
    }

    private static (int Top, int Bottom) RowRange(IReadOnlyList<IReadOnlyList<PolygonPoint>> rings, int height)
    {
        var min = double.PositiveInfinity;
        var max = double.NegativeInfinity;
        foreach (var ring in rings)
        {
            foreach (var point in ring)
            {
                min = Math.Min(min, point.Y);
                max = Math.Max(max, point.Y);
            }
        }

        return min > max ? (0, 0) : (Math.Max(0, (int)Math.Floor(min)), Math.Min(height, (int)Math.Ceiling(max)));
    }
}
