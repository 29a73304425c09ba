using CellSeg.Imaging.Decoding;
using CellSeg.Inference.Models;
using CellSeg.Inference.Segmentation;
using Microsoft.AspNetCore.Http.HttpResults;
using Microsoft.AspNetCore.Mvc;
using Microsoft.Extensions.Options;

namespace CellSeg.Inference.Apis;

public static class SegmentationApi
{
    public static IEndpointRouteBuilder MapSegmentationApi(this IEndpointRouteBuilder app)
    {
        var api = app.MapGroup("/v1").WithTags("Segmentation");

        api.MapGet("/models", ListModels)
            .WithName("ListModels")
            .WithSummary("The models this instance serves, with their state, device and safe batch size.");

        api.MapPost("/segment", SegmentAsync)
            .WithName("Segment")
            .WithSummary("Segments one image sent as the raw request body or as the first file of a multipart form.")
            .DisableAntiforgery();

        api.MapPost("/segment/batch", SegmentBatchAsync)
            .WithName("SegmentBatch")
            .WithSummary("Segments every file of a multipart form; each file gets its result or its own problem.")
            .DisableAntiforgery();

        return app;
    }

    public sealed record ModelInfo(
        string Name, string? DisplayName, string Version, string State, string? Device, string? Error,
        int InputWidth, int InputHeight, float DefaultThreshold, int PreferredBatch, int MaxBatch, int RunBatch, int QueueDepth, long ImagesServed);

    public sealed record BatchItem(string FileName, SegmentResponse? Result, ProblemDetails? Problem);

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
            e.Batcher?.MaxBatch ?? 0,
            e.Batcher?.RunBatch ?? 0,
            e.Batcher?.QueueDepth ?? 0,
            e.Batcher?.ImagesServed ?? 0)).ToArray());

    public static async Task<Results<WholeJson<SegmentResponse>, ProblemHttpResult>> SegmentAsync(
        HttpRequest request,
        SegmentationPipeline pipeline,
        IOptions<InferenceOptions> options,
        CancellationToken cancellationToken,
        string? model = null,
        float? threshold = null,
        bool detectHoles = true,
        int priority = 0)
    {
        EncodedImageBuffer? image = null;
        try
        {
            image = await ReadImageAsync(request, options.Value.MaxImageBytes, cancellationToken);
            var parameters = new SegmentParameters(model ?? options.Value.Models[0], threshold, detectHoles, priority);
            return new WholeJson<SegmentResponse>(await pipeline.SegmentAsync(image.Data, parameters, cancellationToken));
        }
        catch (SegmentationFailedException failure)
        {
            pipeline.CountFailure(failure.Kind);
            return TypedResults.Problem(ToProblem(failure));
        }
        finally
        {
            image?.Dispose();
        }
    }

    public static async Task<Results<WholeJson<BatchItem[]>, ProblemHttpResult>> SegmentBatchAsync(
        HttpRequest request,
        SegmentationPipeline pipeline,
        IOptions<InferenceOptions> options,
        CancellationToken cancellationToken,
        string? model = null,
        float? threshold = null,
        bool detectHoles = true,
        int priority = 0)
    {
        if (!IsMultipartForm(request))
        {
            return TypedResults.Problem(ToProblem(new SegmentationFailedException(SegmentationFailureKind.InvalidRequest, "Send the images as multipart/form-data files.")));
        }

        IFormCollection form;
        try
        {
            form = await ReadFormAsync(request, cancellationToken);
        }
        catch (SegmentationFailedException failure)
        {
            return TypedResults.Problem(ToProblem(failure));
        }

        if (form.Files.Count == 0)
        {
            return TypedResults.Problem(ToProblem(new SegmentationFailedException(SegmentationFailureKind.InvalidRequest, "The form has no files.")));
        }

        var parameters = new SegmentParameters(model ?? options.Value.Models[0], threshold, detectHoles, priority);
        var items = await Task.WhenAll(form.Files.Select(async file =>
        {
            EncodedImageBuffer? bytes = null;
            try
            {
                bytes = await ReadFileAsync(file, options.Value.MaxImageBytes, cancellationToken);
                return new BatchItem(file.FileName, await pipeline.SegmentAsync(bytes.Data, parameters, cancellationToken), null);
            }
            catch (SegmentationFailedException failure)
            {
                pipeline.CountFailure(failure.Kind);
                return new BatchItem(file.FileName, null, ToProblem(failure));
            }
            finally
            {
                bytes?.Dispose();
            }
        }));
        return new WholeJson<BatchItem[]>(items);
    }

    private static async Task<EncodedImageBuffer> ReadImageAsync(HttpRequest request, long maxBytes, CancellationToken cancellationToken)
    {
        if (IsMultipartForm(request))
        {
            var form = await ReadFormAsync(request, cancellationToken);
            return form.Files.Count > 0
                ? await ReadFileAsync(form.Files[0], maxBytes, cancellationToken)
                : throw new SegmentationFailedException(SegmentationFailureKind.InvalidRequest, "The form has no file.");
        }

        if (request.ContentLength > maxBytes)
        {
            throw TooLarge(maxBytes);
        }

        return await FillAsync(request.Body, request.ContentLength, maxBytes, cancellationToken);
    }

    /// <summary>Only multipart/form-data can carry files; any other body, url-encoded included, is the image itself.</summary>
    private static bool IsMultipartForm(HttpRequest request) =>
        request.ContentType is { } contentType
        && contentType.StartsWith("multipart/form-data", StringComparison.OrdinalIgnoreCase);

    private static async Task<IFormCollection> ReadFormAsync(HttpRequest request, CancellationToken cancellationToken)
    {
        try
        {
            return await request.ReadFormAsync(cancellationToken);
        }
        catch (Exception ex) when (ex is InvalidDataException or IOException && !cancellationToken.IsCancellationRequested)
        {
            throw new SegmentationFailedException(SegmentationFailureKind.InvalidRequest, $"The multipart form could not be read: {ex.Message}");
        }
    }

    private static async Task<EncodedImageBuffer> ReadFileAsync(IFormFile file, long maxBytes, CancellationToken cancellationToken)
    {
        if (file.Length > maxBytes)
        {
            throw TooLarge(maxBytes);
        }

        await using var stream = file.OpenReadStream();
        return await FillAsync(stream, file.Length, maxBytes, cancellationToken);
    }

    /// <summary>The whole stream in a pooled buffer sized from its declared length; too large is an answer of its own.</summary>
    private static async Task<EncodedImageBuffer> FillAsync(Stream stream, long? declaredLength, long maxBytes, CancellationToken cancellationToken)
    {
        var buffer = new EncodedImageBuffer((int)Math.Min(maxBytes + 1, declaredLength is > 0 and var length ? length + 1 : 64 * 1024));
        try
        {
            if (await buffer.FillAsync(stream, maxBytes, cancellationToken))
            {
                return buffer;
            }
        }
        catch
        {
            buffer.Dispose();
            throw;
        }

        buffer.Dispose();
        throw TooLarge(maxBytes);
    }

    private static SegmentationFailedException TooLarge(long maxBytes) =>
        new(SegmentationFailureKind.ImageTooLarge, $"The image is larger than {maxBytes} bytes.");

    private static ProblemDetails ToProblem(SegmentationFailedException failure) => new()
    {
        Status = failure.Kind switch
        {
            SegmentationFailureKind.UnknownModel => StatusCodes.Status404NotFound,
            SegmentationFailureKind.ModelNotReady => StatusCodes.Status503ServiceUnavailable,
            SegmentationFailureKind.ImageTooLarge => StatusCodes.Status413PayloadTooLarge,
            SegmentationFailureKind.UnreadableImage => StatusCodes.Status422UnprocessableEntity,
            SegmentationFailureKind.Busy => StatusCodes.Status429TooManyRequests,
            SegmentationFailureKind.TimedOut => StatusCodes.Status503ServiceUnavailable,
            _ => StatusCodes.Status400BadRequest,
        },
        Title = failure.Kind switch
        {
            SegmentationFailureKind.UnknownModel => "Unknown model",
            SegmentationFailureKind.ModelNotReady => "Model not ready",
            SegmentationFailureKind.ImageTooLarge => "Image too large",
            SegmentationFailureKind.UnreadableImage => "Unreadable image",
            SegmentationFailureKind.Busy => "Model queue full",
            SegmentationFailureKind.TimedOut => "Timed out",
            _ => "Invalid request",
        },
        Detail = failure.Message,
    };
}
