using System.Text;
using System.Text.Json;
using CellSeg.QueueWorker.Processing;

namespace CellSeg.QueueWorker.Tests;

public sealed class InferenceResultTests
{
    private const string Objects =
        """[{"id":1,"kind":"external","parentId":null,"points":[{"x":1.5,"y":2},{"x":3,"y":4.25}],"confidence":0.93,"metrics":{"area":12.5,"note":"a \"quoted\" ] bracket"}},{"id":2,"kind":"internal","parentId":1,"points":[],"confidence":0.93,"metrics":null}]""";

    [Fact]
    public void ParseKeepsTheObjectsExactlyAsWrittenAndReadsTheRest()
    {
        var answer = """
            {"model":"hrnet","device":"cpu","width":512,"height":384,"batchSize":3,"objectCount":1,
             "unknownLater":{"nested":[1,2,{"x":"y"}]},
             "objects":
            """ + Objects + """
            ,
             "timings":{"queueMs":1.5,"preprocessMs":2.25,"inferenceMs":20,"postprocessMs":0.75}}
            """;

        var result = InferenceResult.Parse(Encoding.UTF8.GetBytes(answer));

        Assert.Equal(Objects, result.ObjectsJson);
        Assert.Equal(("hrnet", "cpu", 512, 384, 3, 1), (result.Model, result.Device, result.Width, result.Height, result.BatchSize, result.ObjectCount));
        Assert.Equal(new InferenceTimings(1.5, 2.25, 20, 0.75), result.Timings);
        using var parsed = JsonDocument.Parse(result.ObjectsJson);
        Assert.Equal(2, parsed.RootElement.GetArrayLength());
    }

    [Theory]
    [InlineData("""{"model":"hrnet","device":"cpu","timings":{"queueMs":0,"preprocessMs":0,"inferenceMs":0,"postprocessMs":0}}""")]
    [InlineData("""[1,2,3]""")]
    [InlineData("""{"model":"hrnet","device":"cpu","objects":{"not":"an array"},"timings":{}}""")]
    public void ParseRefusesAnswersWithoutTheirParts(string answer) =>
        Assert.ThrowsAny<Exception>(() => InferenceResult.Parse(Encoding.UTF8.GetBytes(answer)));
}
