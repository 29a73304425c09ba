using CellSeg.LoadGen.Quality;

namespace CellSeg.ModelTests;

/// <summary>
/// Held-out IoU through the service's C# pipeline does not fall more than 0.01 below the recorded figure:
/// <c>quality.json</c> (the C# pipeline, written by <c>quality --write</c>) when present, otherwise the Python
/// evaluator's <c>evaluation.iou</c> in <c>model.json</c>.
/// </summary>
public sealed class HeldOutQualityTests(LoadedNetworks networks)
{
    private const double AllowedDrop = 0.01;

    [Theory]
    [MemberData(nameof(ModelFolders.Present), MemberType = typeof(ModelFolders))]
    public void HeldOutIouThroughTheCSharpPipelineIsAtLeastTheRecordedFigureMinusOneHundredth(string model)
    {
        var network = networks[model];
        var recorded = RecordedQuality.TryRead(network.Folder);
        if (recorded is not null)
        {
            Assert.True(
                recorded.OnnxSha256 == network.OnnxSha256(),
                $"{RecordedQuality.FileName} of {model} was measured on another model.onnx; rerun quality --model {model} --write");
        }

        var (baseline, source) = recorded is not null
            ? (recorded.Iou, RecordedQuality.FileName)
            : (network.Card.Evaluation?.Iou ?? double.NaN, "model.json evaluation.iou");
        // A served model without a recorded quality figure is a model nobody measured.
        Assert.False(double.IsNaN(baseline), $"{model} has neither {RecordedQuality.FileName} nor an evaluation in model.json.");

        var evaluator = new QualityEvaluator(network, QualityEvaluator.ServiceDefaults(network.Card.DefaultThreshold));
        var report = evaluator.EvaluateAll(HeldOutSet.Load(ModelFolders.HeldOut), TestContext.Current.CancellationToken);

        Assert.True(
            report.Network.Iou >= baseline - AllowedDrop,
            $"{model}: held-out mean IoU {report.Network.Iou:F4} is below {source} {baseline:F4} − {AllowedDrop}");

        // A segmentation network that does not beat a global threshold is not worth serving.
        Assert.True(
            report.Network.Iou > report.Otsu.Iou,
            $"{model}: held-out mean IoU {report.Network.Iou:F4} does not beat Otsu's {report.Otsu.Iou:F4}");
    }
}
