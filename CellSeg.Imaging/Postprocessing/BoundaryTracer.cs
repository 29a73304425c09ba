using CellSeg.Imaging.Geometry;

namespace CellSeg.Imaging.Postprocessing;

/// <summary>
/// Follows pixel edges ("crack" boundaries) of a region in a bordered mask. Vertices are pixel corners, so the
/// polygon encloses exactly the region's pixels and its shoelace area equals their count. Only corners where the
/// boundary turns are emitted. The walk keeps the object on its right: in image coordinates (y down) external rings
/// come out clockwise as seen on screen (positive shoelace area) and hole rings counter-clockwise (negative).
/// </summary>
internal static class BoundaryTracer
{
    // East, south, west, north; turning right is +1.
    private static ReadOnlySpan<int> StepX => [1, 0, -1, 0];
    private static ReadOnlySpan<int> StepY => [0, 1, 0, -1];

    /// <summary>
    /// Outer boundary of the 8-connected foreground component whose first pixel in raster order is
    /// (<paramref name="x"/>, <paramref name="y"/>). Diagonal neighbours belong to the component, so where two
    /// pixels touch only at a corner the boundary passes through that corner twice.
    /// </summary>
    public static List<PolygonPoint> TraceExternal(ReadOnlySpan<byte> mask, int stride, int x, int y) =>
        Trace(mask, stride, x, y, foreground: true);

    /// <summary>
    /// Boundary of the 4-connected background component (hole) whose first pixel in raster order is
    /// (<paramref name="x"/>, <paramref name="y"/>), oriented as a hole of the object around it.
    /// </summary>
    public static List<PolygonPoint> TraceHole(ReadOnlySpan<byte> mask, int stride, int x, int y)
    {
        var ring = Trace(mask, stride, x, y, foreground: false);

        // Traced with the hole on the right; reversing puts the object on the right. Keep the start vertex first.
        ring.Reverse(1, ring.Count - 1);
        return ring;
    }

    private static List<PolygonPoint> Trace(ReadOnlySpan<byte> mask, int stride, int startX, int startY, bool foreground)
    {
        // The first pixel's top-left corner, heading east along its top edge, with the region below (on the right).
        var region = foreground ? (byte)1 : (byte)0;
        var ring = new List<PolygonPoint> { new(startX, startY) };
        int x = startX, y = startY, direction = 0;
        var limit = 4L * stride * (mask.Length / stride);
        for (long steps = 0; steps < limit; steps++)
        {
            x += StepX[direction];
            y += StepY[direction];

            // The pixel whose top-left corner is (x, y) sits at (y + 1) · stride + x + 1 in the bordered mask.
            var southEast = ((y + 1) * stride) + x + 1;
            var (leftAhead, rightAhead) = direction switch
            {
                0 => (southEast - stride, southEast),
                1 => (southEast, southEast - 1),
                2 => (southEast - 1, southEast - stride - 1),
                _ => (southEast - stride - 1, southEast - stride),
            };
            var leftIn = mask[leftAhead] == region;
            var rightIn = mask[rightAhead] == region;

            // Foreground is 8-connected, so a region pixel diagonally ahead-left is joined through the corner;
            // background is 4-connected, so it is joined only when the pixel ahead-right is region too.
            var next = foreground
                ? leftIn ? (direction + 3) & 3 : rightIn ? direction : (direction + 1) & 3
                : rightIn ? (leftIn ? (direction + 3) & 3 : direction) : (direction + 1) & 3;

            if (x == startX && y == startY && next == 0)
            {
                return ring;
            }

            if (next != direction)
            {
                ring.Add(new PolygonPoint(x, y));
                direction = next;
            }
        }

        throw new InvalidOperationException("Boundary tracing did not return to its start; the mask is inconsistent.");
    }
}
