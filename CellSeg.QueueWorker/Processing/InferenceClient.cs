using System.Diagnostics;
using System.Globalization;
using System.Net;
using System.Net.Http.Headers;
using System.Net.Http.Json;
using System.Text.Json;
using CellSeg.Data.Queue;
using Microsoft.AspNetCore.Mvc;

namespace CellSeg.QueueWorker.Processing;

/// <summary>
/// The subset of Inference's <c>/v1/segment</c> answer the worker stores; <see cref="ObjectsJson"/> is the
/// <c>objects</c> array exactly as Inference wrote it, stored as it is.
/// </summary>
public sealed record InferenceResult(
    string Model,
    string Device,
    int Width,
    int Height,
    int BatchSize,
    int ObjectCount,
    string ObjectsJson,
    InferenceTimings Timings)
{
    /// <summary>
    /// Reads the answer in one pass: the polygons are sliced out as raw JSON rather than built into a document
    /// and written back out, which had been a quarter of the worker's CPU.
    /// </summary>
    public static InferenceResult Parse(ReadOnlySpan<byte> json)
    {
        var reader = new Utf8JsonReader(json);
        string? model = null, device = null, objects = null;
        int width = 0, height = 0, batchSize = 0, objectCount = 0;
        InferenceTimings? timings = null;
        Expect(reader.Read() && reader.TokenType == JsonTokenType.StartObject);
        while (reader.Read() && reader.TokenType == JsonTokenType.PropertyName)
        {
            var name = reader.GetString();
            Expect(reader.Read());
            switch (name)
            {
                case "model": model = reader.GetString(); break;
                case "device": device = reader.GetString(); break;
                case "width": width = reader.GetInt32(); break;
                case "height": height = reader.GetInt32(); break;
                case "batchSize": batchSize = reader.GetInt32(); break;
                case "objectCount": objectCount = reader.GetInt32(); break;
                case "objects":
                    Expect(reader.TokenType == JsonTokenType.StartArray);
                    var start = (int)reader.TokenStartIndex;
                    reader.Skip();
                    objects = System.Text.Encoding.UTF8.GetString(json[start..(int)reader.BytesConsumed]);
                    break;
                case "timings":
                    timings = JsonSerializer.Deserialize<InferenceTimings>(ref reader, s_web);
                    break;
                default:
                    reader.Skip();
                    break;
            }
        }

        return new InferenceResult(
            model ?? throw Missing("model"), device ?? throw Missing("device"), width, height, batchSize, objectCount,
            objects ?? throw Missing("objects"), timings ?? throw Missing("timings"));
    }

    private static readonly JsonSerializerOptions s_web = new(JsonSerializerDefaults.Web);

    private static void Expect(bool condition)
    {
        if (!condition)
        {
            throw new InvalidDataException("Inference answered JSON of an unexpected shape.");
        }
    }

    private static InvalidDataException Missing(string property) => new($"Inference's answer has no '{property}'.");
}

public sealed record InferenceTimings(double QueueMs, double PreprocessMs, double InferenceMs, double PostprocessMs);

/// <summary>Inference refused the image itself (unreadable, too large, unknown model): retrying cannot help.</summary>
public sealed class InferenceRejectedException(HttpStatusCode status, string reason) : Exception(reason)
{
    public HttpStatusCode Status { get; } = status;
}

public sealed class InferenceClient(HttpClient http)
{
    public async Task<InferenceResult> SegmentAsync(byte[] image, SegmentationWorkItem item, CancellationToken cancellationToken)
    {
        var uri = string.Create(CultureInfo.InvariantCulture,
            $"v1/segment?model={Uri.EscapeDataString(item.Model)}&threshold={item.Threshold}&detectHoles={item.DetectHoles}&priority={item.Priority}");
        using var content = new ByteArrayContent(image);
        content.Headers.ContentType = new MediaTypeHeaderValue("application/octet-stream");
        using var response = await http.PostAsync(uri, content, cancellationToken);

        if (response.IsSuccessStatusCode)
        {
            return InferenceResult.Parse(await response.Content.ReadAsByteArrayAsync(cancellationToken));
        }

        if ((int)response.StatusCode is >= 400 and < 500 and not 408 and not 429)
        {
            var problem = await ReadProblemAsync(response, cancellationToken);
            throw new InferenceRejectedException(response.StatusCode, problem?.Detail ?? problem?.Title ?? response.ReasonPhrase ?? "rejected");
        }

        response.EnsureSuccessStatusCode();
        throw new UnreachableException();
    }

    public async Task<IReadOnlyList<InferenceModel>> ListModelsAsync(CancellationToken cancellationToken) =>
        await http.GetFromJsonAsync<InferenceModel[]>("v1/models", cancellationToken) ?? [];

    private static async Task<ProblemDetails?> ReadProblemAsync(HttpResponseMessage response, CancellationToken cancellationToken)
    {
        try
        {
            return await response.Content.ReadFromJsonAsync<ProblemDetails>(cancellationToken);
        }
        catch (JsonException)
        {
            return null;
        }
    }
}
