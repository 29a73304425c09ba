namespace CellSeg.LoadGen.Quality;

/// <summary>
/// Per-image scores and their summaries. IoU and Dice are means over images, as <c>training/evaluate.py</c> reports
/// them; the global figures pool the pixels of all images. Object figures pool the counts of all images
/// (micro-averaged), because several images hold only one or two objects.
/// </summary>
public sealed class QualityReport(string model, float threshold, IReadOnlyList<ImageQuality> images)
{
    public string Model { get; } = model;

    public float Threshold { get; } = threshold;

    public IReadOnlyList<ImageQuality> Images { get; } = images;

    public QualitySummary Network { get; } = QualitySummary.Of(images.Select(i => i.Model).ToList());

    public QualitySummary Otsu { get; } = QualitySummary.Of(images.Select(i => i.Otsu).ToList());

    public double MeanNetworkMs => Images.Count > 0 ? Images.Average(i => i.NetworkMs) : 0;
}

/// <summary>Summary figures of one method over a set of images.</summary>
public sealed record QualitySummary(
    double Iou,
    double Dice,
    double GlobalIou,
    double GlobalDice,
    double MinIou,
    ObjectScore Objects)
{
    public static QualitySummary Of(IReadOnlyList<SegmentationScore> scores)
    {
        ArgumentNullException.ThrowIfNull(scores);
        if (scores.Count == 0)
        {
            throw new ArgumentException("No images were scored.", nameof(scores));
        }

        var intersection = scores.Sum(s => s.Pixels.Intersection);
        var union = scores.Sum(s => s.Pixels.Union);
        var areas = scores.Sum(s => s.Pixels.PredictedArea + s.Pixels.TrueArea);
        return new QualitySummary(
            scores.Average(s => s.Pixels.Iou),
            scores.Average(s => s.Pixels.Dice),
            union > 0 ? (double)intersection / union : 1,
            areas > 0 ? 2.0 * intersection / areas : 1,
            scores.Min(s => s.Pixels.Iou),
            scores.Select(s => s.Objects).Aggregate((a, b) => a + b));
    }
}
