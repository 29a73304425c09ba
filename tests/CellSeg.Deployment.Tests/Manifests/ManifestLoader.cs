using k8s;

namespace CellSeg.Deployment.Tests.Manifests;

/// <summary>Reads manifests with the Kubernetes client's typed loader, strictly: an unknown field is an error.</summary>
public static class ManifestLoader
{
    private static readonly Dictionary<string, Type> s_customTypes = new()
    {
        [$"{ScaledObject.ApiGroupVersion}/ScaledObject"] = typeof(ScaledObject),
        [$"{ScaledObject.ApiGroupVersion}/TriggerAuthentication"] = typeof(TriggerAuthentication),
        [$"{KustomizationFile.ApiGroupVersion}/Kustomization"] = typeof(KustomizationFile),
    };

    /// <summary>The repository's deploy/kubernetes folder, found upwards from the test's output folder.</summary>
    public static string KubernetesRoot { get; } = FindKubernetesRoot();

    public static string RepositoryRoot => Path.GetFullPath(Path.Combine(KubernetesRoot, "..", ".."));

    /// <summary>Every YAML file under deploy/kubernetes, relative to it, with '/' separators.</summary>
    public static IReadOnlyList<string> AllYamlFiles() =>
        Directory.EnumerateFiles(KubernetesRoot, "*.*", SearchOption.AllDirectories)
            .Where(path => path.EndsWith(".yaml", StringComparison.Ordinal) || path.EndsWith(".yml", StringComparison.Ordinal))
            .Select(path => Path.GetRelativePath(KubernetesRoot, path).Replace('\\', '/'))
            .Order(StringComparer.Ordinal)
            .ToList();

    public static IReadOnlyList<object> LoadFile(string relativePath) =>
        Load(File.ReadAllText(Path.Combine(KubernetesRoot, relativePath)));

    public static IReadOnlyList<object> Load(string yaml) =>
        KubernetesYaml.LoadAllFromString(yaml, s_customTypes, strict: true);

    private static string FindKubernetesRoot()
    {
        for (var directory = new DirectoryInfo(AppContext.BaseDirectory); directory is not null; directory = directory.Parent)
        {
            var candidate = Path.Combine(directory.FullName, "deploy", "kubernetes");
            if (Directory.Exists(candidate))
            {
                return candidate;
            }
        }

        throw new DirectoryNotFoundException($"No deploy/kubernetes above {AppContext.BaseDirectory}.");
    }
}
