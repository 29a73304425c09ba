using CellSeg.Deployment.Tests.Manifests;
using k8s.Models;

namespace CellSeg.Deployment.Tests;

public sealed class GpuTests
{
    private const string Gpu = "nvidia.com/gpu";

    public static TheoryData<string> GpuOverlays => ["gpu", "production"];

    public static TheoryData<string> CpuOverlays => ["base", "cpu", "dev"];

    [Theory]
    [MemberData(nameof(GpuOverlays))]
    public void InferenceGetsOneNvidiaGpuAndUsesCuda(string overlay)
    {
        var rendered = RenderedOverlay.Get(overlay);
        var pod = rendered.Deployment("inference").Spec.Template.Spec;
        var container = pod.Containers.Single();

        Assert.Equal("1", container.Resources.Limits[Gpu].ToString());
        Assert.Equal("cuda", rendered.EnvironmentOf(container)["Inference__Device"].Value);
        Assert.Equal("true", pod.NodeSelector["nvidia.com/gpu.present"]);
        Assert.Contains(pod.Tolerations, t => t.Key == Gpu && t.OperatorProperty == "Exists" && t.Effect == "NoSchedule");
        // The CUDA build of the image (-p:OnnxRuntimeGpu=true) carries its own tag.
        Assert.EndsWith("gpu", container.Image, StringComparison.Ordinal);
        Assert.All(rendered.Deployment("queueworker").Spec.Template.Spec.Containers, c => Assert.False(c.Resources.Limits.ContainsKey(Gpu)));
    }

    [Theory]
    [MemberData(nameof(CpuOverlays))]
    public void CpuOverlaysAskForNoGpu(string overlay)
    {
        var rendered = RenderedOverlay.Get(overlay);
        var inference = rendered.Deployment("inference").Spec.Template.Spec.Containers.Single();

        Assert.Equal("cpu", rendered.EnvironmentOf(inference)["Inference__Device"].Value);
        Assert.All(rendered.PodTemplates().SelectMany(w => w.Template.Spec.Containers), container =>
        {
            Assert.False(container.Resources.Limits.ContainsKey(Gpu));
            Assert.False(container.Resources.Requests.ContainsKey(Gpu));
        });
    }
}
