using System.Buffers;
using System.Diagnostics;
using CellSeg.Imaging.Decoding;
using CellSeg.Imaging.Postprocessing;
using CellSeg.Imaging.Preprocessing;
using CellSeg.Inference.Models;
using Microsoft.Extensions.Options;

namespace CellSeg.Inference.Segmentation;

/// <summary>One image through a model: decode, resize and normalise, run the network, extract the objects.</summary>
public sealed class SegmentationPipeline(ModelRegistry registry, InferenceTelemetry telemetry, IOptions<InferenceOptions> options, TimeProvider timeProvider)
{
    public Task<SegmentResponse> SegmentAsync(byte[] image, SegmentParameters parameters, CancellationToken cancellationToken)
    {
        var model = ResolveModel(parameters.Model);
        var threshold = parameters.Threshold ?? model.Descriptor.DefaultThreshold;
        if (!(threshold is > 0f and < 1f))
        {
            throw new SegmentationFailedException(SegmentationFailureKind.InvalidRequest, "The threshold must be between 0 and 1 (exclusive).");
        }

        return Task.Run(() => Segment(image, model, threshold, parameters.DetectHoles, cancellationToken), cancellationToken);
    }

    public void CountFailure(SegmentationFailureKind kind) =>
        telemetry.Failures.Add(1, new KeyValuePair<string, object?>("reason", kind.ToString()));

    private SegmentResponse Segment(byte[] bytes, LoadedModel model, float threshold, bool detectHoles, CancellationToken cancellationToken)
    {
        using var activity = InferenceTelemetry.Source.StartActivity("segmentation.run");
        activity?.SetTag("cellseg.model", model.Descriptor.Name);
        var settings = options.Value;
        var descriptor = model.Descriptor;

        var started = timeProvider.GetTimestamp();
        DecodedImage image;
        try
        {
            image = ImageDecoder.Decode(bytes, new ImageDecodeOptions { MaxPixels = settings.MaxImagePixels, MaxBytes = settings.MaxImageBytes });
        }
        catch (ImageDecodeException ex)
        {
            throw new SegmentationFailedException(
                ex.Error == ImageDecodeError.TooLarge ? SegmentationFailureKind.ImageTooLarge : SegmentationFailureKind.UnreadableImage,
                ex.Message);
        }

        var planeLength = descriptor.InputWidth * descriptor.InputHeight;
        var input = ArrayPool<float>.Shared.Rent(descriptor.Channels * planeLength);
        float[] probabilities;
        double preprocessMs, inferenceMs;
        try
        {
            InputTensorWriter.WriteChw(image, descriptor.InputWidth, descriptor.InputHeight, descriptor.Mean, descriptor.Std, input);
            preprocessMs = timeProvider.GetElapsedTime(started).TotalMilliseconds;
            cancellationToken.ThrowIfCancellationRequested();

            var ran = timeProvider.GetTimestamp();
            // The pooled array may be longer than the tensor; ONNX Runtime needs the exact length.
            probabilities = model.Run(input.AsSpan(0, descriptor.Channels * planeLength).ToArray(), batchSize: 1);
            inferenceMs = timeProvider.GetElapsedTime(ran).TotalMilliseconds;
        }
        finally
        {
            ArrayPool<float>.Shared.Return(input);
        }

        telemetry.InferenceDuration.Record(inferenceMs, new KeyValuePair<string, object?>("model", descriptor.Name));
        telemetry.BatchSize.Record(1, new KeyValuePair<string, object?>("model", descriptor.Name));

        var post = timeProvider.GetTimestamp();
        var objects = ObjectExtractor.Extract(
            probabilities, descriptor.InputWidth, descriptor.InputHeight, image.Width, image.Height,
            new PostProcessingOptions { Threshold = threshold, DetectHoles = detectHoles });
        var postprocessMs = timeProvider.GetElapsedTime(post).TotalMilliseconds;

        telemetry.Images.Add(1, new KeyValuePair<string, object?>("model", descriptor.Name));
        activity?.SetTag("cellseg.objects", objects.Count);
        return new SegmentResponse(
            descriptor.Name,
            model.Device,
            image.Width,
            image.Height,
            BatchSize: 1,
            ObjectCount: objects.Count(o => o.Kind == ObjectKind.External),
            objects,
            new SegmentTimings(0, preprocessMs, inferenceMs, postprocessMs));
    }

    private LoadedModel ResolveModel(string name)
    {
        if (!registry.TryGet(name, out var entry))
        {
            throw new SegmentationFailedException(SegmentationFailureKind.UnknownModel, $"Model '{name}' is not served here.");
        }

        return entry.State == ModelState.Ready
            ? entry.Model!
            : throw new SegmentationFailedException(SegmentationFailureKind.ModelNotReady, $"Model '{name}' is {entry.State.ToString().ToLowerInvariant()}{(entry.Error is null ? "" : ": " + entry.Error)}.");
    }
}
