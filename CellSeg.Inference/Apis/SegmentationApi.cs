using CellSeg.Inference.Models;
using CellSeg.Inference.Segmentation;
using Microsoft.AspNetCore.Http.HttpResults;
using Microsoft.Extensions.Options;

namespace CellSeg.Inference.Apis;

public static class SegmentationApi
{
    public static IEndpointRouteBuilder MapSegmentationApi(this IEndpointRouteBuilder app)
    {
        var api = app.MapGroup("/v1").WithTags("Segmentation");

        api.MapGet("/models", ListModels)
            .WithName("ListModels")
            .WithSummary("The models this instance serves, with their state and device.");

        api.MapPost("/segment", SegmentAsync)
            .WithName("Segment")
            .WithSummary("Segments one image sent as the raw request body or as the first file of a multipart form.")
            .DisableAntiforgery();

        return app;
    }

    public sealed record ModelInfo(
        string Name, string? DisplayName, string Version, string State, string? Device, string? Error,
        int InputWidth, int InputHeight, float DefaultThreshold, int PreferredBatch, int MaxBatch);

    public static Ok<ModelInfo[]> ListModels(ModelRegistry registry) =>
        TypedResults.Ok(registry.Entries.Select(e => new ModelInfo(
            e.Name,
            e.Model?.Descriptor.DisplayName,
            e.Model?.Descriptor.Version ?? "",
            e.State.ToString().ToLowerInvariant(),
            e.Model?.Device,
            e.Error,
            e.Model?.Descriptor.InputWidth ?? 0,
            e.Model?.Descriptor.InputHeight ?? 0,
            e.Model?.Descriptor.DefaultThreshold ?? 0,
            e.Model?.Descriptor.PreferredBatch ?? 0,
            e.Model?.Descriptor.MaxBatch ?? 0)).ToArray());

    public static async Task<Results<Ok<SegmentResponse>, ProblemHttpResult>> SegmentAsync(
        HttpRequest request,
        SegmentationPipeline pipeline,
        IOptions<InferenceOptions> options,
        string? model,
        float? threshold,
        bool? detectHoles,
        CancellationToken cancellationToken)
    {
        try
        {
            var image = await ReadImageAsync(request, options.Value.MaxImageBytes, cancellationToken);
            var parameters = new SegmentParameters(model ?? options.Value.Models[0], threshold, detectHoles ?? true);
            return TypedResults.Ok(await pipeline.SegmentAsync(image, parameters, cancellationToken));
        }
        catch (SegmentationFailedException failure)
        {
            pipeline.CountFailure(failure.Kind);
            return TypedResults.Problem(
                title: Title(failure.Kind),
                detail: failure.Message,
                statusCode: StatusCode(failure.Kind));
        }
    }

    private static async Task<byte[]> ReadImageAsync(HttpRequest request, long maxBytes, CancellationToken cancellationToken)
    {
        if (request.HasFormContentType)
        {
            var form = await request.ReadFormAsync(cancellationToken);
            var file = form.Files.Count > 0
                ? form.Files[0]
                : throw new SegmentationFailedException(SegmentationFailureKind.InvalidRequest, "The form has no file.");
            if (file.Length > maxBytes)
            {
                throw new SegmentationFailedException(SegmentationFailureKind.ImageTooLarge, $"The image is larger than {maxBytes} bytes.");
            }

            using var buffer = new MemoryStream((int)file.Length);
            await file.CopyToAsync(buffer, cancellationToken);
            return buffer.ToArray();
        }

        if (request.ContentLength > maxBytes)
        {
            throw new SegmentationFailedException(SegmentationFailureKind.ImageTooLarge, $"The image is larger than {maxBytes} bytes.");
        }

        using var body = new MemoryStream(request.ContentLength is > 0 and var length ? (int)length : 64 * 1024);
        await request.Body.CopyToAsync(body, cancellationToken);
        if (body.Length > maxBytes)
        {
            throw new SegmentationFailedException(SegmentationFailureKind.ImageTooLarge, $"The image is larger than {maxBytes} bytes.");
        }

        return body.ToArray();
    }

    private static int StatusCode(SegmentationFailureKind kind) => kind switch
    {
        SegmentationFailureKind.UnknownModel => StatusCodes.Status404NotFound,
        SegmentationFailureKind.ModelNotReady => StatusCodes.Status503ServiceUnavailable,
        SegmentationFailureKind.ImageTooLarge => StatusCodes.Status413PayloadTooLarge,
        SegmentationFailureKind.UnreadableImage => StatusCodes.Status422UnprocessableEntity,
        _ => StatusCodes.Status400BadRequest,
    };

    private static string Title(SegmentationFailureKind kind) => kind switch
    {
        SegmentationFailureKind.UnknownModel => "Unknown model",
        SegmentationFailureKind.ModelNotReady => "Model not ready",
        SegmentationFailureKind.ImageTooLarge => "Image too large",
        SegmentationFailureKind.UnreadableImage => "Unreadable image",
        _ => "Invalid request",
    };
}
