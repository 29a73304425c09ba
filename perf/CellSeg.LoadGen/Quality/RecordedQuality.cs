using System.Text.Json;
using System.Text.Json.Serialization;

namespace CellSeg.LoadGen.Quality;

/// <summary>
/// <c>models/&lt;name&gt;/quality.json</c>, written by <c>quality --write</c>: the held-out figures of the C# pipeline,
/// tied to the ONNX file they were measured on by its SHA-256. The model tests compare a fresh evaluation with it,
/// because the C# pipeline's resize (bilinear without antialiasing) and its post-processing (small objects dropped,
/// small holes filled) make its figures differ from <c>training/evaluate.py</c>'s.
/// </summary>
public sealed record RecordedQuality
{
    public const string FileName = "quality.json";

    private static readonly JsonSerializerOptions s_json = new(JsonSerializerDefaults.Web) { WriteIndented = true };

    public required string Model { get; init; }

    public required string OnnxSha256 { get; init; }

    public required string Pipeline { get; init; }

    public required float Threshold { get; init; }

    public required double MinObjectArea { get; init; }

    public required int Images { get; init; }

    public required double Iou { get; init; }

    public required double Dice { get; init; }

    public required double GlobalIou { get; init; }

    public required double GlobalDice { get; init; }

    public required double MinIou { get; init; }

    [JsonPropertyName("precision_objects")]
    public required double PrecisionObjects { get; init; }

    [JsonPropertyName("recall_objects")]
    public required double RecallObjects { get; init; }

    [JsonPropertyName("f1_objects")]
    public required double F1Objects { get; init; }

    [JsonPropertyName("otsu_iou")]
    public required double OtsuIou { get; init; }

    [JsonPropertyName("otsu_dice")]
    public required double OtsuDice { get; init; }

    [JsonPropertyName("otsu_globalIou")]
    public required double OtsuGlobalIou { get; init; }

    [JsonPropertyName("otsu_f1_objects")]
    public required double OtsuF1Objects { get; init; }

    public required IReadOnlyList<RecordedImage> PerImage { get; init; }

    public static string PathFor(string modelFolder) => Path.Combine(modelFolder, FileName);

    public static RecordedQuality? TryRead(string modelFolder)
    {
        var path = PathFor(modelFolder);
        if (!File.Exists(path))
        {
            return null;
        }

        using var stream = File.OpenRead(path);
        return JsonSerializer.Deserialize<RecordedQuality>(stream, s_json);
    }

    public static RecordedQuality From(QualityReport report, string onnxSha256, double minObjectArea)
    {
        ArgumentNullException.ThrowIfNull(report);
        var network = report.Network;
        var otsu = report.Otsu;
        return new RecordedQuality
        {
            Model = report.Model,
            OnnxSha256 = onnxSha256,
            Pipeline = "C#: ImageDecoder, InputTensorWriter (bilinear, half-pixel centres, no antialiasing), "
                + $"ONNX Runtime {Microsoft.ML.OnnxRuntime.OrtEnv.Instance().GetVersionString()} CPU, "
                + "ObjectExtractor (DetectHoles, MinObjectArea), polygons rasterised even-odd; "
                + "objects = 8-connected true components vs external objects, matched one-to-one at IoU >= 0.5",
            Threshold = report.Threshold,
            MinObjectArea = minObjectArea,
            Images = report.Images.Count,
            Iou = Round(network.Iou),
            Dice = Round(network.Dice),
            GlobalIou = Round(network.GlobalIou),
            GlobalDice = Round(network.GlobalDice),
            MinIou = Round(network.MinIou),
            PrecisionObjects = Round(network.Objects.Precision),
            RecallObjects = Round(network.Objects.Recall),
            F1Objects = Round(network.Objects.F1),
            OtsuIou = Round(otsu.Iou),
            OtsuDice = Round(otsu.Dice),
            OtsuGlobalIou = Round(otsu.GlobalIou),
            OtsuF1Objects = Round(otsu.Objects.F1),
            PerImage = report.Images.Select(i => new RecordedImage(
                i.Image.Name,
                Round(i.Model.Pixels.Iou),
                Round(i.Model.Pixels.Dice),
                i.Model.Objects.TrueObjects,
                i.Model.Objects.PredictedObjects,
                i.Model.Objects.Matched,
                Round(i.Otsu.Pixels.Iou))).ToList(),
        };
    }

    public void Write(string modelFolder) =>
        File.WriteAllText(PathFor(modelFolder), JsonSerializer.Serialize(this, s_json) + "\n");

    internal static double Round(double value) => Math.Round(value, 4, MidpointRounding.AwayFromZero);
}

/// <summary>One image's figures in <see cref="RecordedQuality"/>.</summary>
public sealed record RecordedImage(
    string Image,
    double Iou,
    double Dice,
    int TrueObjects,
    int PredictedObjects,
    int MatchedObjects,
    [property: JsonPropertyName("otsu_iou")] double OtsuIou);
