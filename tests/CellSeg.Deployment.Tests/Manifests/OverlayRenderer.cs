using YamlDotNet.RepresentationModel;

namespace CellSeg.Deployment.Tests.Manifests;

/// <summary>
/// Renders a kustomization folder as kustomize does, for the features <see cref="KustomizationFile"/> admits:
/// resources (files and folders), strategic merge patches, Secret and ConfigMap generators, image overrides and the
/// namespace. Generators read the committed <c>NAME.example.env</c> in place of the git-ignored <c>NAME.env</c>, so a
/// render is the same on every machine and never sees a real secret.
/// </summary>
public static class OverlayRenderer
{
    private static readonly HashSet<string> s_clusterScopedKinds = ["Namespace", "ClusterRole", "ClusterRoleBinding", "PersistentVolume", "StorageClass", "CustomResourceDefinition"];

    private static readonly HashSet<string> s_podTemplateKinds = ["Deployment", "StatefulSet", "DaemonSet", "Job", "ReplicaSet"];

    private static readonly string[] s_containerLists = ["initContainers", "containers"];

    /// <summary>The rendered objects, typed by the strict loader.</summary>
    public static IReadOnlyList<object> Render(string kustomizationDirectory) =>
        ManifestLoader.Load(YamlTree.Write(RenderTree(kustomizationDirectory)));

    /// <summary>The committed example file that stands in for a git-ignored env file.</summary>
    public static string ExampleFor(string envFile) =>
        Path.Combine(Path.GetDirectoryName(envFile) ?? "", Path.GetFileNameWithoutExtension(envFile) + ".example" + Path.GetExtension(envFile));

    public static List<YamlMappingNode> RenderTree(string kustomizationDirectory)
    {
        var directory = Path.GetFullPath(kustomizationDirectory);
        var kustomization = ManifestLoader.Load(File.ReadAllText(Path.Combine(directory, "kustomization.yaml")))
            .OfType<KustomizationFile>()
            .Single();

        var documents = new List<YamlMappingNode>();
        foreach (var resource in kustomization.Resources)
        {
            var path = Path.GetFullPath(Path.Combine(directory, resource));
            documents.AddRange(Directory.Exists(path) ? RenderTree(path) : YamlTree.Parse(File.ReadAllText(path)));
        }

        documents.AddRange(kustomization.SecretGenerator.Select(generator => Generate("Secret", "stringData", generator, directory)));
        documents.AddRange(kustomization.ConfigMapGenerator.Select(generator => Generate("ConfigMap", "data", generator, directory)));
        if (kustomization.GeneratorOptions?.DisableNameSuffixHash != true && (kustomization.SecretGenerator.Count > 0 || kustomization.ConfigMapGenerator.Count > 0))
        {
            throw new NotSupportedException($"{directory}: generated names with a hash suffix are not rendered here; set generatorOptions.disableNameSuffixHash.");
        }

        foreach (var patch in kustomization.Patches)
        {
            foreach (var patchDocument in YamlTree.Parse(File.ReadAllText(Path.Combine(directory, patch.Path))))
            {
                var targets = documents.Where(document => document.Kind() == patchDocument.Kind() && document.Name() == patchDocument.Name()).ToList();
                if (targets.Count != 1)
                {
                    throw new InvalidDataException($"{patch.Path}: {targets.Count} objects {patchDocument.Kind()}/{patchDocument.Name()} to patch.");
                }

                StrategicMerge.Apply(targets[0], patchDocument);
            }
        }

        foreach (var image in kustomization.Images)
        {
            foreach (var container in documents.Where(document => s_podTemplateKinds.Contains(document.Kind())).SelectMany(Containers))
            {
                ReplaceImage(container, image);
            }
        }

        if (kustomization.Namespace is { } ns)
        {
            foreach (var document in documents.Where(document => !s_clusterScopedKinds.Contains(document.Kind())))
            {
                document.GetOrAddMap("metadata").Children[new YamlScalarNode("namespace")] = new YamlScalarNode(ns);
            }
        }

        var duplicate = documents.GroupBy(document => (document.Kind(), document.Name())).FirstOrDefault(group => group.Count() > 1);
        if (duplicate is not null)
        {
            throw new InvalidDataException($"{directory}: {duplicate.Key.Item1}/{duplicate.Key.Item2} is defined {duplicate.Count()} times.");
        }

        return documents;
    }

    /// <summary>KEY=VALUE lines as kustomize reads an env file: blank lines and # comments skipped, the value verbatim.</summary>
    public static IReadOnlyList<KeyValuePair<string, string>> ReadEnvFile(string path) =>
        File.ReadAllLines(path)
            .Where(line => line.Trim().Length > 0 && !line.TrimStart().StartsWith('#'))
            .Select(line =>
            {
                var separator = line.IndexOf('=', StringComparison.Ordinal);
                return separator <= 0
                    ? throw new InvalidDataException($"{path}: '{line}' is not KEY=VALUE.")
                    : KeyValuePair.Create(line[..separator], line[(separator + 1)..]);
            })
            .ToList();

    private static IEnumerable<YamlMappingNode> Containers(YamlMappingNode workload)
    {
        var podSpec = workload.Map("spec")?.Map("template")?.Map("spec");
        return s_containerLists.SelectMany(key => (podSpec?.Get(key) as YamlSequenceNode)?.Children.OfType<YamlMappingNode>() ?? []);
    }

    private static void ReplaceImage(YamlMappingNode container, KustomizationImage image)
    {
        var current = container.Scalar("image") ?? "";
        var separator = current.LastIndexOf(':');
        var (name, tag) = separator > current.LastIndexOf('/') && separator >= 0
            ? (current[..separator], current[(separator + 1)..])
            : (current, null);
        if (name != image.Name)
        {
            return;
        }

        var newImage = image.NewName ?? name;
        var newTag = image.NewTag ?? tag;
        container.Children[new YamlScalarNode("image")] = new YamlScalarNode(newTag is null ? newImage : $"{newImage}:{newTag}");
    }

    private static YamlMappingNode Generate(string kind, string valuesKey, KustomizationGenerator generator, string directory)
    {
        var values = new YamlMappingNode();
        foreach (var envFile in generator.Envs)
        {
            foreach (var (key, value) in ReadEnvFile(ExampleFor(Path.Combine(directory, envFile))))
            {
                values.Children[new YamlScalarNode(key)] = new YamlScalarNode(value) { Style = YamlDotNet.Core.ScalarStyle.DoubleQuoted };
            }
        }

        foreach (var literal in generator.Literals)
        {
            var separator = literal.IndexOf('=', StringComparison.Ordinal);
            values.Children[new YamlScalarNode(literal[..separator])] = new YamlScalarNode(literal[(separator + 1)..]) { Style = YamlDotNet.Core.ScalarStyle.DoubleQuoted };
        }

        var document = new YamlMappingNode
        {
            { "apiVersion", "v1" },
            { "kind", kind },
            { "metadata", new YamlMappingNode { { "name", generator.Name } } },
            { valuesKey, values },
        };
        return document;
    }
}
