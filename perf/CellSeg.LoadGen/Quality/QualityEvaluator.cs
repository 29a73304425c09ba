using System.Diagnostics;
using CellSeg.Imaging.Decoding;
using CellSeg.Imaging.Postprocessing;
using CellSeg.Imaging.Preprocessing;

namespace CellSeg.LoadGen.Quality;

/// <summary>How one held-out image scored, for the network and for the Otsu baseline.</summary>
public sealed record ImageQuality(
    HeldOutImage Image,
    int Width,
    int Height,
    SegmentationScore Model,
    SegmentationScore Otsu,
    bool OtsuObjectsDarker,
    double NetworkMs);

/// <summary>
/// Scores a network on held-out images through the service's own C# pipeline: <see cref="ImageDecoder"/>,
/// <see cref="InputTensorWriter"/>, ONNX Runtime, <see cref="ObjectExtractor"/>, and the returned polygons
/// rasterised back to pixels. The Otsu baseline goes through the same extraction and scoring.
/// </summary>
public sealed class QualityEvaluator(SegmentationNetwork network, PostProcessingOptions postProcessing)
{
    /// <summary>What the Inference service applies unless a request says otherwise.</summary>
    public static PostProcessingOptions ServiceDefaults(float threshold) =>
        new() { Threshold = threshold, DetectHoles = true, MinObjectArea = 50 };

    public QualityReport EvaluateAll(IReadOnlyList<HeldOutImage> images, CancellationToken cancellationToken)
    {
        ArgumentNullException.ThrowIfNull(images);
        var rows = new List<ImageQuality>(images.Count);
        foreach (var image in images)
        {
            cancellationToken.ThrowIfCancellationRequested();
            rows.Add(Evaluate(image));
        }

        return new QualityReport(network.Card.Name, postProcessing.Threshold, rows);
    }

    public ImageQuality Evaluate(HeldOutImage image)
    {
        ArgumentNullException.ThrowIfNull(image);
        var decoded = ImageDecoder.Decode(File.ReadAllBytes(image.ImagePath));
        var truth = TruthMask.Read(image.MaskPath);
        if (truth.Width != decoded.Width || truth.Height != decoded.Height)
        {
            throw new InvalidDataException(
                $"{image.Name} is {decoded.Width} × {decoded.Height} but its mask is {truth.Width} × {truth.Height}.");
        }

        var card = network.Card;
        var input = new float[3 * card.InputWidth * card.InputHeight];
        InputTensorWriter.WriteChw(decoded, card.InputWidth, card.InputHeight, card.Mean, card.Std, input);
        var clock = Stopwatch.StartNew();
        var maps = network.Run(input, 1);
        var networkMs = clock.Elapsed.TotalMilliseconds;
        var objects = ObjectExtractor.Extract(maps.Map(0), maps.Width, maps.Height, decoded.Width, decoded.Height, postProcessing);

        // The binary map is already at image size, so the extractor's resize is the identity and 0.5 splits 0 from 1.
        var (otsuMap, objectsDarker) = OtsuBaseline.Segment(decoded);
        var otsuObjects = ObjectExtractor.Extract(
            otsuMap, decoded.Width, decoded.Height, decoded.Width, decoded.Height, postProcessing with { Threshold = 0.5f });

        return new ImageQuality(
            image,
            decoded.Width,
            decoded.Height,
            SegmentationScore.Of(objects, truth),
            SegmentationScore.Of(otsuObjects, truth),
            objectsDarker,
            networkMs);
    }
}
