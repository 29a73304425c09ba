using System.Buffers;
using System.Diagnostics;
using CellSeg.Imaging.Decoding;
using CellSeg.Imaging.Postprocessing;
using CellSeg.Imaging.Preprocessing;
using CellSeg.Inference.Batching;
using CellSeg.Inference.Models;
using Microsoft.Extensions.Options;

namespace CellSeg.Inference.Segmentation;

/// <summary>
/// One image through a model: decode, resize and normalise on the caller's thread (with a second core where the
/// model is idle), run the network in the model's dynamic batch (or at once on the caller's thread where the model is
/// idle), extract the objects on the caller's thread again.
/// </summary>
public sealed class SegmentationPipeline(
    ModelRegistry registry,
    InferenceTelemetry telemetry,
    IOptions<InferenceOptions> options,
    IOptions<BatchingOptions> batching,
    TimeProvider timeProvider)
{
    public async Task<SegmentResponse> SegmentAsync(ReadOnlyMemory<byte> image, SegmentParameters parameters, CancellationToken cancellationToken)
    {
        using var activity = InferenceTelemetry.Source.StartActivity("segmentation.run");
        activity?.SetTag("cellseg.model", parameters.Model);
        var entry = ResolveModel(parameters.Model);
        var descriptor = entry.Model!.Descriptor;
        var threshold = parameters.Threshold ?? descriptor.DefaultThreshold;
        if (!(threshold is > 0f and < 1f))
        {
            throw new SegmentationFailedException(SegmentationFailureKind.InvalidRequest, "The threshold must be between 0 and 1 (exclusive).");
        }

        if (parameters.Priority is < 0 or > 10)
        {
            throw new SegmentationFailedException(SegmentationFailureKind.InvalidRequest, "The priority must be between 0 and 10.");
        }

        telemetry.Requests.Add(1, new KeyValuePair<string, object?>("model", descriptor.Name));
        var started = timeProvider.GetTimestamp();
        var input = ArrayPool<float>.Shared.Rent(entry.Model.InputLength);
        int width, height;
        try
        {
            // A request that finds its model idle decodes on two cores: the network is not using the second one.
            (width, height) = DecodeInput(image.Span, descriptor, input, pipelined: Environment.ProcessorCount > 1 && entry.Batcher!.IsIdle);
        }
        catch
        {
            ArrayPool<float>.Shared.Return(input);
            throw;
        }

        var preprocessMs = timeProvider.GetElapsedTime(started).TotalMilliseconds;

        using var timeout = CancellationTokenSource.CreateLinkedTokenSource(cancellationToken);
        timeout.CancelAfter(batching.Value.RequestTimeoutMs);
        BatchResult batch;
        try
        {
            batch = await entry.Batcher!.SubmitAsync(input, parameters.Priority, timeout.Token);
        }
        catch (QueueFullException ex)
        {
            throw new SegmentationFailedException(SegmentationFailureKind.Busy, ex.Message);
        }
        catch (OperationCanceledException) when (!cancellationToken.IsCancellationRequested)
        {
            throw new SegmentationFailedException(
                SegmentationFailureKind.TimedOut, $"The image waited more than {batching.Value.RequestTimeoutMs} ms for the model.");
        }
        finally
        {
            // The batcher copied it into its batch tensor (or dropped the request): a cancelled request's late copy
            // only reads the array.
            ArrayPool<float>.Shared.Return(input);
        }

        var post = timeProvider.GetTimestamp();
        IReadOnlyList<DetectedObject> objects;
        try
        {
            objects = ObjectExtractor.Extract(
                batch.Probabilities, descriptor.InputWidth, descriptor.InputHeight, width, height,
                new PostProcessingOptions { Threshold = threshold, DetectHoles = parameters.DetectHoles });
        }
        finally
        {
            ArrayPool<float>.Shared.Return(batch.Probabilities);
        }

        var postprocessMs = timeProvider.GetElapsedTime(post).TotalMilliseconds;

        telemetry.Images.Add(1, new KeyValuePair<string, object?>("model", descriptor.Name));
        activity?.SetTag("cellseg.objects", objects.Count);
        activity?.SetTag("cellseg.batch_size", batch.BatchSize);
        return new SegmentResponse(
            descriptor.Name,
            entry.Model.Device,
            width,
            height,
            batch.BatchSize,
            ObjectCount: objects.Count(o => o.Kind == ObjectKind.External),
            objects,
            new SegmentTimings(batch.QueueMs, preprocessMs, batch.InferenceMs, postprocessMs));
    }

    public void CountFailure(SegmentationFailureKind kind) =>
        telemetry.Failures.Add(1, new KeyValuePair<string, object?>("reason", kind.ToString()));

    /// <summary>Decodes the image into the model's input tensor.</summary>
    /// <returns>The image's own size.</returns>
    private (int Width, int Height) DecodeInput(ReadOnlySpan<byte> bytes, ModelDescriptor descriptor, float[] input, bool pipelined)
    {
        var settings = options.Value;
        try
        {
            return InputTensorWriter.DecodeChw(
                bytes,
                new ImageDecodeOptions { MaxPixels = settings.MaxImagePixels, MaxBytes = settings.MaxImageBytes },
                descriptor.InputWidth,
                descriptor.InputHeight,
                descriptor.Mean,
                descriptor.Std,
                input,
                pipelined);
        }
        catch (ImageDecodeException ex)
        {
            Activity.Current?.SetStatus(ActivityStatusCode.Error, ex.Reason);
            throw new SegmentationFailedException(
                ex.Error == ImageDecodeError.TooLarge ? SegmentationFailureKind.ImageTooLarge : SegmentationFailureKind.UnreadableImage,
                ex.Reason);
        }
    }

    private ModelEntry ResolveModel(string name)
    {
        if (!registry.TryGet(name, out var entry))
        {
            throw new SegmentationFailedException(SegmentationFailureKind.UnknownModel, $"Model '{name}' is not served here.");
        }

        return entry.State == ModelState.Ready
            ? entry
            : throw new SegmentationFailedException(
                SegmentationFailureKind.ModelNotReady,
                $"Model '{name}' is {entry.State.ToString().ToLowerInvariant()}{(entry.Error is null ? "" : ": " + entry.Error)}.");
    }
}
