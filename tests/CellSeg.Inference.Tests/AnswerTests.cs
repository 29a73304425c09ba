using System.Net;
using System.Net.Http.Headers;
using System.Text.Json;

namespace CellSeg.Inference.Tests;

/// <summary>How the segmentation endpoints write their answers.</summary>
public sealed class AnswerTests
{
    [Fact]
    public async Task ASegmentationIsAnsweredInOnePieceWithItsLengthAndTheAppsJson()
    {
        var ct = TestContext.Current.CancellationToken;
        await using var factory = new InferenceFactory();
        var client = await factory.CreateReadyClientAsync(ct);

        using var content = new ByteArrayContent(TestImages.SingleSpheroid);
        content.Headers.ContentType = new MediaTypeHeaderValue("application/octet-stream");
        using var request = new HttpRequestMessage(HttpMethod.Post, "/v1/segment?model=hrnet") { Content = content };
        // The length as the service sent it, before the body is read and buffered here.
        using var response = await client.SendAsync(request, HttpCompletionOption.ResponseHeadersRead, ct);
        var declaredLength = response.Content.Headers.ContentLength;
        var body = await response.Content.ReadAsByteArrayAsync(ct);

        Assert.Equal(HttpStatusCode.OK, response.StatusCode);
        Assert.Equal("application/json", response.Content.Headers.ContentType?.MediaType);
        Assert.Equal(body.Length, declaredLength);
        // Written with the app's JSON options, as Ok<T> writes: kinds as camel-case text, points as {x, y}.
        using var answer = JsonDocument.Parse(body);
        var spheroid = answer.RootElement.GetProperty("objects").EnumerateArray().First();
        Assert.Equal("external", spheroid.GetProperty("kind").GetString());
        var point = spheroid.GetProperty("points").EnumerateArray().First();
        Assert.Equal([JsonValueKind.Number, JsonValueKind.Number], [point.GetProperty("x").ValueKind, point.GetProperty("y").ValueKind]);
    }

    [Fact]
    public async Task ABatchIsAnsweredInOnePieceWithItsLength()
    {
        var ct = TestContext.Current.CancellationToken;
        await using var factory = new InferenceFactory();
        var client = await factory.CreateReadyClientAsync(ct);

        using var form = new MultipartFormDataContent();
        foreach (var name in new[] { "a.png", "b.png" })
        {
            var file = new ByteArrayContent(TestImages.SingleSpheroid);
            file.Headers.ContentType = new MediaTypeHeaderValue("image/png");
            form.Add(file, "images", name);
        }

        using var request = new HttpRequestMessage(HttpMethod.Post, "/v1/segment/batch?model=hrnet") { Content = form };
        using var response = await client.SendAsync(request, HttpCompletionOption.ResponseHeadersRead, ct);
        var declaredLength = response.Content.Headers.ContentLength;
        var body = await response.Content.ReadAsByteArrayAsync(ct);

        Assert.Equal(HttpStatusCode.OK, response.StatusCode);
        Assert.Equal(body.Length, declaredLength);
        using var answer = JsonDocument.Parse(body);
        Assert.Equal(["a.png", "b.png"], answer.RootElement.EnumerateArray().Select(item => item.GetProperty("fileName").GetString()));
    }
}
