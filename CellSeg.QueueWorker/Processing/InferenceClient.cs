using System.Diagnostics;
using System.Globalization;
using System.Net;
using System.Net.Http.Headers;
using System.Net.Http.Json;
using System.Text.Json;
using CellSeg.Data.Queue;
using Microsoft.AspNetCore.Mvc;

namespace CellSeg.QueueWorker.Processing;

/// <summary>The subset of Inference's <c>/v1/segment</c> answer the worker stores; objects stay raw JSON.</summary>
public sealed record InferenceResult(
    string Model,
    string Device,
    int Width,
    int Height,
    int BatchSize,
    int ObjectCount,
    JsonElement Objects,
    InferenceTimings Timings);

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
            return await response.Content.ReadFromJsonAsync<InferenceResult>(cancellationToken)
                ?? throw new InvalidDataException("Inference answered an empty body.");
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
