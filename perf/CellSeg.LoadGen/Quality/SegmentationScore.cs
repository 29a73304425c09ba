using CellSeg.Imaging.Postprocessing;

namespace CellSeg.LoadGen.Quality;

/// <summary>Pixel overlap of one predicted mask with its true mask.</summary>
public sealed record PixelScore(long Intersection, long Union, long PredictedArea, long TrueArea)
{
    /// <summary>1 when both masks are empty, as <c>training/common.py</c> counts it.</summary>
    public double Iou => Union > 0 ? (double)Intersection / Union : 1;

    public double Dice => PredictedArea + TrueArea > 0 ? 2.0 * Intersection / (PredictedArea + TrueArea) : 1;
}

/// <summary>Object counts: true components, predicted external objects, and one-to-one matches at IoU ≥ 0.5.</summary>
public sealed record ObjectScore(int TrueObjects, int PredictedObjects, int Matched)
{
    public double Precision => PredictedObjects > 0 ? (double)Matched / PredictedObjects : 1;

    public double Recall => TrueObjects > 0 ? (double)Matched / TrueObjects : 1;

    public double F1 => TrueObjects + PredictedObjects > 0 ? 2.0 * Matched / (TrueObjects + PredictedObjects) : 1;

    public static ObjectScore operator +(ObjectScore a, ObjectScore b)
    {
        ArgumentNullException.ThrowIfNull(a);
        ArgumentNullException.ThrowIfNull(b);
        return new(a.TrueObjects + b.TrueObjects, a.PredictedObjects + b.PredictedObjects, a.Matched + b.Matched);
    }
}

/// <summary>How one segmentation (a list of extracted objects) scores against a true mask.</summary>
public sealed record SegmentationScore(PixelScore Pixels, ObjectScore Objects)
{
    /// <summary>Objects whose IoU with a true component reaches this are matches; above 0.5 a match is unique anyway.</summary>
    public const double MatchIou = 0.5;

    public static SegmentationScore Of(IReadOnlyList<DetectedObject> objects, TruthMask truth)
    {
        ArgumentNullException.ThrowIfNull(truth);
        var (predicted, count) = MaskRasteriser.LabelObjects(objects, truth.Width, truth.Height);
        return Of(predicted, count, truth);
    }

    /// <summary>Scores a label map (0 background, 1..<paramref name="predictedCount"/> objects) against the truth.</summary>
    public static SegmentationScore Of(ReadOnlySpan<int> predicted, int predictedCount, TruthMask truth)
    {
        ArgumentNullException.ThrowIfNull(truth);
        var trueLabels = truth.Labels;
        var stride = predictedCount + 1;

        // Overlap table: row = true label, column = predicted label, 0 = background on either side.
        var overlap = new long[(truth.Count + 1) * stride];
        for (var i = 0; i < trueLabels.Length; i++)
        {
            overlap[(trueLabels[i] * stride) + predicted[i]]++;
        }

        var trueArea = new long[truth.Count + 1];
        var predictedArea = new long[stride];
        for (var t = 0; t <= truth.Count; t++)
        {
            for (var p = 0; p < stride; p++)
            {
                trueArea[t] += overlap[(t * stride) + p];
                predictedArea[p] += overlap[(t * stride) + p];
            }
        }

        var totalTrue = trueArea.Skip(1).Sum();
        var totalPredicted = predictedArea.Skip(1).Sum();
        var intersection = 0L;
        var candidates = new List<(double Iou, int True, int Predicted)>();
        for (var t = 1; t <= truth.Count; t++)
        {
            for (var p = 1; p < stride; p++)
            {
                var inter = overlap[(t * stride) + p];
                intersection += inter;
                if (inter > 0)
                {
                    var iou = (double)inter / (trueArea[t] + predictedArea[p] - inter);
                    if (iou >= MatchIou)
                    {
                        candidates.Add((iou, t, p));
                    }
                }
            }
        }

        // Greedy one-to-one matching, best IoU first.
        candidates.Sort((a, b) => b.Iou.CompareTo(a.Iou));
        var trueUsed = new bool[truth.Count + 1];
        var predictedUsed = new bool[stride];
        var matched = 0;
        foreach (var (_, t, p) in candidates)
        {
            if (!trueUsed[t] && !predictedUsed[p])
            {
                trueUsed[t] = predictedUsed[p] = true;
                matched++;
            }
        }

        var pixels = new PixelScore(intersection, totalTrue + totalPredicted - intersection, totalPredicted, totalTrue);
        return new SegmentationScore(pixels, new ObjectScore(truth.Count, predictedCount, matched));
    }
}
