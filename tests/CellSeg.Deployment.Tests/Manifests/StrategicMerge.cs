using YamlDotNet.RepresentationModel;

namespace CellSeg.Deployment.Tests.Manifests;

/// <summary>
/// The part of Kubernetes' strategic merge patch that the overlays use, as kustomize applies it: mappings merge key by
/// key, a null value removes its key, and in a workload's pod template the lists Kubernetes gives a merge key
/// (containers and env by name, volumes by name, volumeMounts by mountPath, container ports by containerPort) merge
/// item by item; every other list, and every list of a custom resource, is replaced whole.
/// </summary>
public static class StrategicMerge
{
    private static readonly HashSet<string> s_workloadKinds = ["Deployment", "StatefulSet", "DaemonSet", "Job", "ReplicaSet"];

    private static readonly Dictionary<string, string> s_mergeKeys = new()
    {
        ["containers"] = "name",
        ["initContainers"] = "name",
        ["env"] = "name",
        ["volumes"] = "name",
        ["imagePullSecrets"] = "name",
        ["volumeMounts"] = "mountPath",
        ["ports"] = "containerPort",
    };

    public static void Apply(YamlMappingNode target, YamlMappingNode patch)
    {
        var useMergeKeys = s_workloadKinds.Contains(target.Kind());
        MergeMapping(target, patch, useMergeKeys);
    }

    private static void MergeMapping(YamlMappingNode target, YamlMappingNode patch, bool useMergeKeys)
    {
        foreach (var (keyNode, patchValue) in patch.Children)
        {
            var key = ((YamlScalarNode)keyNode).Value ?? "";
            if (patchValue is YamlScalarNode { Value: null or "" or "~" or "null", Style: YamlDotNet.Core.ScalarStyle.Plain })
            {
                target.Children.Remove(keyNode);
                continue;
            }

            target.Children.TryGetValue(keyNode, out var targetValue);
            switch (patchValue)
            {
                case YamlMappingNode patchMap when targetValue is YamlMappingNode targetMap:
                    MergeMapping(targetMap, patchMap, useMergeKeys);
                    break;
                case YamlSequenceNode patchList when targetValue is YamlSequenceNode targetList
                    && useMergeKeys && s_mergeKeys.TryGetValue(key, out var mergeKey):
                    MergeList(targetList, patchList, mergeKey);
                    break;
                default:
                    target.Children[keyNode.Clone()] = patchValue.Clone();
                    break;
            }
        }
    }

    private static void MergeList(YamlSequenceNode target, YamlSequenceNode patch, string mergeKey)
    {
        foreach (var item in patch.Children)
        {
            var patchItem = item as YamlMappingNode ?? throw new InvalidDataException($"Items merged by {mergeKey} must be mappings.");
            var key = patchItem.Scalar(mergeKey) ?? throw new InvalidDataException($"A patched list item has no {mergeKey}.");
            var existing = target.Children.OfType<YamlMappingNode>().FirstOrDefault(candidate => candidate.Scalar(mergeKey) == key);
            if (existing is null)
            {
                target.Children.Add(patchItem.Clone());
            }
            else
            {
                MergeMapping(existing, patchItem, useMergeKeys: true);
            }
        }
    }
}
