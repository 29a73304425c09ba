using CellSeg.Deployment.Tests.Manifests;

namespace CellSeg.Deployment.Tests;

/// <summary>
/// The overlays the other tests check are rendered by <see cref="OverlayRenderer"/>; where kubectl is installed, its
/// kustomize must render exactly the same objects, so the checks hold for what <c>kubectl apply -k</c> applies.
/// </summary>
public sealed class KustomizeParityTests
{
    [Theory]
    [MemberData(nameof(RenderedOverlay.AllNames), MemberType = typeof(RenderedOverlay))]
    public void KustomizeRendersTheSameObjectsAsTheTestsCheck(string overlay)
    {
        // kubectl (with kustomize) ships in this project's machine image; its absence is a broken machine, not a skip.
        Assert.True(KubectlKustomize.Executable is not null, "kubectl (with kustomize) is not on the PATH");

        var expected = OverlayRenderer.RenderTree(RenderedOverlay.DirectoryOf(overlay)).ToDictionary(Key, YamlTree.Canonical);
        var actual = KubectlKustomize.Render(overlay).ToDictionary(Key, YamlTree.Canonical);

        Assert.Equal(expected.Keys.Order(), actual.Keys.Order());
        Assert.All(expected, pair => Assert.Equal(pair.Value, actual[pair.Key]));
    }

    private static string Key(YamlDotNet.RepresentationModel.YamlMappingNode document) => $"{document.Kind()}/{document.Name()}";
}
