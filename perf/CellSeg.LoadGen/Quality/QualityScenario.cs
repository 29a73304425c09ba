using System.Globalization;
using System.Text.Json;
using System.Text.Json.Serialization;
using CellSeg.LoadGen.Topology;

namespace CellSeg.LoadGen.Quality;

/// <summary>
/// <c>quality --model NAME</c>: a model's held-out segmentation quality through the service's own C# pre- and
/// post-processing, beside the classical Otsu baseline. Prints a table per image, a summary, and last one JSON line.
/// </summary>
public static class QualityScenario
{
    /// <param name="Model">A folder name under <paramref name="ModelsFolder"/>.</param>
    /// <param name="Threshold">Probability threshold; null takes <c>defaultThreshold</c> from <c>model.json</c>.</param>
    /// <param name="Write">Also write <c>models/NAME/quality.json</c>, which the model tests compare against.</param>
    /// <param name="Threads">ONNX Runtime intra-op threads; null leaves ONNX Runtime's choice.</param>
    public sealed record Options(string Model, string ModelsFolder, string HeldOutFolder, float? Threshold, bool Write, int? Threads)
    {
        public static Options From(CommandLine commandLine)
        {
            ArgumentNullException.ThrowIfNull(commandLine);
            var threshold = commandLine.Text("threshold", "");
            var threads = commandLine.Number("threads", 0);
            return new Options(
                commandLine.Text("model", "hrnet"),
                commandLine.Text("models", Path.Combine(RepositoryLayout.Root, "models")),
                commandLine.Text("heldout", Path.Combine(RepositoryLayout.Root, "training", "heldout")),
                threshold.Length > 0 ? float.Parse(threshold, CultureInfo.InvariantCulture) : null,
                commandLine.Text("write", "false") == "true",
                threads > 0 ? threads : null);
        }
    }

    private sealed record SummaryLine(
        [property: JsonPropertyName("model")] string Model,
        [property: JsonPropertyName("iou")] double Iou,
        [property: JsonPropertyName("dice")] double Dice,
        [property: JsonPropertyName("f1_objects")] double F1Objects,
        [property: JsonPropertyName("precision_objects")] double PrecisionObjects,
        [property: JsonPropertyName("recall_objects")] double RecallObjects,
        [property: JsonPropertyName("otsu_iou")] double OtsuIou,
        [property: JsonPropertyName("otsu_dice")] double OtsuDice,
        [property: JsonPropertyName("otsu_f1_objects")] double OtsuF1Objects,
        [property: JsonPropertyName("images")] int Images);

    public static Task<int> RunAsync(Options options, CancellationToken cancellationToken)
    {
        ArgumentNullException.ThrowIfNull(options);
        var folder = Path.Combine(options.ModelsFolder, options.Model);
        if (!File.Exists(Path.Combine(folder, "model.json")))
        {
            Console.Error.WriteLine($"No model '{options.Model}' under {options.ModelsFolder} (no model.json).");
            return Task.FromResult(1);
        }

        // The work is CPU-bound and synchronous; a worker thread keeps Ctrl-C responsive between images.
        return Task.Run(() => Run(options, folder, cancellationToken), cancellationToken);
    }

    private static int Run(Options options, string folder, CancellationToken cancellationToken)
    {
        using var network = SegmentationNetwork.Load(folder, options.Threads);
        var images = HeldOutSet.Load(options.HeldOutFolder);
        var postProcessing = QualityEvaluator.ServiceDefaults(options.Threshold ?? network.Card.DefaultThreshold);
        Console.WriteLine(
            $"Model {network.Card.Name} on {images.Count} held-out images from {options.HeldOutFolder}; "
            + $"threshold {postProcessing.Threshold.ToString(CultureInfo.InvariantCulture)}, min object area {postProcessing.MinObjectArea}");

        var report = new QualityEvaluator(network, postProcessing).EvaluateAll(images, cancellationToken);
        PrintImages(report);
        PrintSummary(report, network.Card.Evaluation);

        if (options.Write)
        {
            RecordedQuality.From(report, network.OnnxSha256(), postProcessing.MinObjectArea).Write(folder);
            Console.WriteLine($"Wrote {RecordedQuality.PathFor(folder)}");
        }

        var n = report.Network;
        var o = report.Otsu;
        var line = new SummaryLine(
            report.Model,
            RecordedQuality.Round(n.Iou),
            RecordedQuality.Round(n.Dice),
            RecordedQuality.Round(n.Objects.F1),
            RecordedQuality.Round(n.Objects.Precision),
            RecordedQuality.Round(n.Objects.Recall),
            RecordedQuality.Round(o.Iou),
            RecordedQuality.Round(o.Dice),
            RecordedQuality.Round(o.Objects.F1),
            report.Images.Count);
        Console.WriteLine(JsonSerializer.Serialize(line));
        return 0;
    }

    private static void PrintImages(QualityReport report)
    {
        Console.WriteLine();
        Console.WriteLine(Invariant(
            $"{"image",-9} {"size",-9} {"bits",4} {"style",-12} {"true",4} {"pred",4} {"match",5} {"IoU",7} {"Dice",7} {"ms",6} | {"otsu fg",-7} {"IoU",7} {"Dice",7} {"pred",4} {"match",5}"));
        foreach (var row in report.Images)
        {
            var m = row.Model;
            var o = row.Otsu;
            Console.WriteLine(Invariant(
                $"{row.Image.Name,-9} {$"{row.Width}x{row.Height}",-9} {row.Image.BitDepth?.ToString(CultureInfo.InvariantCulture) ?? "?",4} {row.Image.Style ?? "?",-12} ",
                $"{m.Objects.TrueObjects,4} {m.Objects.PredictedObjects,4} {m.Objects.Matched,5} {m.Pixels.Iou,7:F4} {m.Pixels.Dice,7:F4} {row.NetworkMs,6:F1} | ",
                $"{(row.OtsuObjectsDarker ? "dark" : "bright"),-7} {o.Pixels.Iou,7:F4} {o.Pixels.Dice,7:F4} {o.Objects.PredictedObjects,4} {o.Objects.Matched,5}"));
        }
    }

    private static void PrintSummary(QualityReport report, PythonEvaluation? python)
    {
        Console.WriteLine();
        foreach (var (method, s) in new[] { (report.Model, report.Network), ("otsu", report.Otsu) })
        {
            Console.WriteLine(Invariant(
                $"{method,-14} mean IoU {s.Iou:F4}  Dice {s.Dice:F4}  global IoU {s.GlobalIou:F4}  Dice {s.GlobalDice:F4}  min IoU {s.MinIou:F4}  ",
                $"objects P {s.Objects.Precision:F4} R {s.Objects.Recall:F4} F1 {s.Objects.F1:F4} ",
                $"({s.Objects.Matched} matched of {s.Objects.TrueObjects} true, {s.Objects.PredictedObjects} predicted)"));
        }

        Console.WriteLine(Invariant($"ONNX Runtime CPU, batch 1: {report.MeanNetworkMs:F1} ms per image (mean, network only)"));
        if (python is not null)
        {
            Console.WriteLine(Invariant(
                $"training/evaluate.py recorded (torch, PIL resize, no post-processing): mean IoU {python.Iou:F4}  Dice {python.Dice:F4}  ",
                $"global IoU {python.GlobalIou:F4}; C# - Python mean IoU {report.Network.Iou - python.Iou:+0.0000;-0.0000}"));
        }
    }

    private static string Invariant(params FormattableString[] parts) =>
        string.Concat(parts.Select(p => p.ToString(CultureInfo.InvariantCulture)));
}
