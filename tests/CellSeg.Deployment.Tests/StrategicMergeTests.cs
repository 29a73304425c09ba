using CellSeg.Deployment.Tests.Manifests;
using YamlDotNet.RepresentationModel;

namespace CellSeg.Deployment.Tests;

public sealed class StrategicMergeTests
{
    private const string Deployment = """
        apiVersion: apps/v1
        kind: Deployment
        metadata:
          name: inference
        spec:
          template:
            spec:
              nodeSelector:
                kubernetes.io/os: linux
              tolerations:
                - key: a
                  operator: Exists
              containers:
                - name: inference
                  image: cellseg/inference:latest
                  env:
                    - name: Inference__Device
                      value: cpu
                    - name: Inference__Models__0
                      value: hrnet
                  resources:
                    limits:
                      cpu: "4"
                - name: sidecar
                  image: sidecar
        """;

    private static YamlMappingNode Merge(string target, string patch)
    {
        var document = YamlTree.Parse(target).Single();
        StrategicMerge.Apply(document, YamlTree.Parse(patch).Single());
        return document;
    }

    private static YamlMappingNode PodSpec(YamlMappingNode deployment) => deployment.Map("spec")!.Map("template")!.Map("spec")!;

    private static YamlMappingNode Container(YamlMappingNode deployment, string name) =>
        ((YamlSequenceNode)PodSpec(deployment).Get("containers")!).Children.Cast<YamlMappingNode>().Single(c => c.Scalar("name") == name);

    [Fact]
    public void ContainersAndTheirEnvMergeByNameAndKeepWhatThePatchDoesNotMention()
    {
        var merged = Merge(Deployment, """
            apiVersion: apps/v1
            kind: Deployment
            metadata:
              name: inference
            spec:
              template:
                spec:
                  nodeSelector:
                    nvidia.com/gpu.present: "true"
                  containers:
                    - name: inference
                      env:
                        - name: Inference__Device
                          value: cuda
                        - name: Inference__Batching__MaxBatch
                          value: "8"
                      resources:
                        limits:
                          nvidia.com/gpu: "1"
            """);

        var inference = Container(merged, "inference");
        var env = ((YamlSequenceNode)inference.Get("env")!).Children.Cast<YamlMappingNode>().ToDictionary(e => e.Scalar("name")!, e => e.Scalar("value"));
        Assert.Equal(new Dictionary<string, string?> { ["Inference__Device"] = "cuda", ["Inference__Models__0"] = "hrnet", ["Inference__Batching__MaxBatch"] = "8" }, env);
        Assert.Equal("cellseg/inference:latest", inference.Scalar("image"));
        Assert.Equal("4", inference.Map("resources")!.Map("limits")!.Scalar("cpu"));
        Assert.Equal("1", inference.Map("resources")!.Map("limits")!.Scalar("nvidia.com/gpu"));
        Assert.Equal("sidecar", Container(merged, "sidecar").Scalar("image"));
        Assert.Equal(["kubernetes.io/os", "nvidia.com/gpu.present"], PodSpec(merged).Map("nodeSelector")!.Children.Keys.Select(k => ((YamlScalarNode)k).Value));
    }

    [Fact]
    public void AListWithoutAMergeKeyIsReplacedWhole()
    {
        var merged = Merge(Deployment, """
            kind: Deployment
            metadata:
              name: inference
            spec:
              template:
                spec:
                  tolerations:
                    - key: nvidia.com/gpu
                      operator: Exists
            """);

        var tolerations = (YamlSequenceNode)PodSpec(merged).Get("tolerations")!;
        Assert.Equal(["nvidia.com/gpu"], tolerations.Children.Cast<YamlMappingNode>().Select(t => t.Scalar("key")));
    }

    [Fact]
    public void ANullValueRemovesItsKey()
    {
        var merged = Merge(Deployment, """
            kind: Deployment
            metadata:
              name: inference
            spec:
              template:
                spec:
                  nodeSelector: null
            """);

        Assert.Null(PodSpec(merged).Get("nodeSelector"));
    }

    [Fact]
    public void ACustomResourceHasItsListsReplacedEvenWhereAWorkloadWouldMergeThem()
    {
        var merged = Merge("""
            kind: ScaledObject
            metadata:
              name: inference
            spec:
              maxReplicaCount: 8
              triggers:
                - name: stream-lag
                  type: redis-streams
                - name: stream-pending
                  type: redis-streams
            """, """
            kind: ScaledObject
            metadata:
              name: inference
            spec:
              maxReplicaCount: 4
              triggers:
                - name: stream-lag
                  type: redis-streams
            """);

        Assert.Equal("4", merged.Map("spec")!.Scalar("maxReplicaCount"));
        Assert.Single(((YamlSequenceNode)merged.Map("spec")!.Get("triggers")!).Children);
    }
}
