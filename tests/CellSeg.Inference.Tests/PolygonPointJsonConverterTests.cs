using System.Text.Json;
using CellSeg.Imaging.Geometry;
using CellSeg.Inference.Segmentation;

namespace CellSeg.Inference.Tests;

public sealed class PolygonPointJsonConverterTests
{
    private static readonly JsonSerializerOptions s_default = new(JsonSerializerDefaults.Web);
    private static readonly JsonSerializerOptions s_converted = new(JsonSerializerDefaults.Web) { Converters = { new PolygonPointJsonConverter() } };

    public static TheoryData<double, double> Points() => new()
    {
        { 0, 0 },
        { 106, 46 },
        { 65535, 1 },
        { 12.5, 3.25 },
        { 0.1, 1e-7 },
        { 3e9, 7 },
        { -4, 2.000001 },
    };

    [Theory]
    [MemberData(nameof(Points))]
    public void PointIsWrittenExactlyAsTheDefaultConverterWritesItAndReadsBack(double x, double y)
    {
        var points = new[] { new PolygonPoint(x, y), new PolygonPoint(y, x) };

        var written = JsonSerializer.Serialize(points, s_converted);

        Assert.Equal(JsonSerializer.Serialize(points, s_default), written);
        Assert.Equal(points, JsonSerializer.Deserialize<PolygonPoint[]>(written, s_converted));
    }

    [Fact]
    public void PointWithoutYIsRejected()
    {
        Assert.Throws<JsonException>(() => JsonSerializer.Deserialize<PolygonPoint>("""{"x":1}""", s_converted));
    }
}
