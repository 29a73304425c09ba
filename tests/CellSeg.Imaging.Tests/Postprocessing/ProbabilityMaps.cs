using CellSeg.Imaging.Geometry;

namespace CellSeg.Imaging.Tests.Postprocessing;

/// <summary>Rasterised analytic shapes: a pixel is inside when its centre (x + 0.5, y + 0.5) is.</summary>
internal static class ProbabilityMaps
{
    public static float[] Draw(int width, int height, Func<double, double, bool> inside, float value = 1f)
    {
        var map = new float[width * height];
        return Paint(map, width, inside, value);
    }

    public static float[] Paint(float[] map, int width, Func<double, double, bool> inside, float value = 1f)
    {
        var height = map.Length / width;
        for (var y = 0; y < height; y++)
        {
            for (var x = 0; x < width; x++)
            {
                if (inside(x + 0.5, y + 0.5))
                {
                    map[(y * width) + x] = value;
                }
            }
        }

        return map;
    }

    public static Func<double, double, bool> Disk(double cx, double cy, double r) =>
        (x, y) => ((x - cx) * (x - cx)) + ((y - cy) * (y - cy)) <= r * r;

    public static Func<double, double, bool> Rectangle(int left, int top, int width, int height) =>
        (x, y) => x >= left && x < left + width && y >= top && y < top + height;

    public static Func<double, double, bool> Ring(double cx, double cy, double outer, double inner) =>
        (x, y) => Disk(cx, cy, outer)(x, y) && !Disk(cx, cy, inner)(x, y);

    public static int Count(float[] map, float threshold = 0.5f) => map.Count(p => p >= threshold);

    /// <summary>Shoelace area, positive for rings that turn clockwise on screen (y down).</summary>
    public static double SignedArea(IReadOnlyList<PolygonPoint> ring)
    {
        var twice = 0.0;
        for (var i = 0; i < ring.Count; i++)
        {
            var a = ring[i];
            var b = ring[(i + 1) % ring.Count];
            twice += (a.X * b.Y) - (b.X * a.Y);
        }

        return twice / 2;
    }
}
