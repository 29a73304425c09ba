using CellSeg.Imaging.Geometry;

namespace CellSeg.Imaging.Metrics;

/// <summary>
/// Area moments up to second order of a polygonal region, from Green's theorem over its boundary. Moments of rings
/// are made orientation-independent (as if the ring were positive) so holes can simply be subtracted.
/// </summary>
internal readonly record struct RegionMoments(double Area, double Mx, double My, double Mxx, double Myy, double Mxy)
{
    public double CentroidX => Mx / Area;

    public double CentroidY => My / Area;

    public static RegionMoments Of(IReadOnlyList<PolygonPoint> ring, PolygonPoint origin)
    {
        double a = 0, mx = 0, my = 0, mxx = 0, myy = 0, mxy = 0;
        for (var i = 0; i < ring.Count; i++)
        {
            var xi = ring[i].X - origin.X;
            var yi = ring[i].Y - origin.Y;
            var next = ring[(i + 1) % ring.Count];
            var xj = next.X - origin.X;
            var yj = next.Y - origin.Y;
            var cross = (xi * yj) - (xj * yi);
            a += cross;
            mx += (xi + xj) * cross;
            my += (yi + yj) * cross;
            mxx += ((xi * xi) + (xi * xj) + (xj * xj)) * cross;
            myy += ((yi * yi) + (yi * yj) + (yj * yj)) * cross;
            mxy += ((xi * yj) + (2 * xi * yi) + (2 * xj * yj) + (xj * yi)) * cross;
        }

        var sign = a < 0 ? -1 : 1;
        return new RegionMoments(sign * a / 2, sign * mx / 6, sign * my / 6, sign * mxx / 12, sign * myy / 12, sign * mxy / 24);
    }

    public static RegionMoments operator -(RegionMoments left, RegionMoments right) => new(
        left.Area - right.Area, left.Mx - right.Mx, left.My - right.My, left.Mxx - right.Mxx, left.Myy - right.Myy, left.Mxy - right.Mxy);

    /// <summary>Full axis lengths of the ellipse with the same area-normalised central second moments.</summary>
    public (double Major, double Minor) EllipseAxes()
    {
        var cx = CentroidX;
        var cy = CentroidY;
        var varianceX = (Mxx / Area) - (cx * cx);
        var varianceY = (Myy / Area) - (cy * cy);
        var covariance = (Mxy / Area) - (cx * cy);
        var mean = (varianceX + varianceY) / 2;
        var spread = Math.Sqrt((((varianceX - varianceY) / 2) * ((varianceX - varianceY) / 2)) + (covariance * covariance));

        // A uniform ellipse with semi-axes a ≥ b has variances a²/4 and b²/4 along its axes: full axis = 4√λ.
        return (4 * Math.Sqrt(Math.Max(mean + spread, 0)), 4 * Math.Sqrt(Math.Max(mean - spread, 0)));
    }
}
