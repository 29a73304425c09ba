using k8s;

namespace CellSeg.Deployment.Tests.Manifests;

/// <summary>
/// A kustomization.yaml, with the fields <see cref="OverlayRenderer"/> implements: loading one that uses any other
/// field fails, rather than rendering it wrongly.
/// </summary>
public sealed class KustomizationFile : IKubernetesObject
{
    public const string ApiGroupVersion = "kustomize.config.k8s.io/v1beta1";

    public string ApiVersion { get; set; } = ApiGroupVersion;
    public string Kind { get; set; } = "Kustomization";
    public string? Namespace { get; set; }
    public IList<string> Resources { get; set; } = [];
    public IList<KustomizationPatch> Patches { get; set; } = [];
    public IList<KustomizationImage> Images { get; set; } = [];
    public IList<KustomizationGenerator> SecretGenerator { get; set; } = [];
    public IList<KustomizationGenerator> ConfigMapGenerator { get; set; } = [];
    public KustomizationGeneratorOptions? GeneratorOptions { get; set; }
}

/// <summary>A strategic merge patch in a file; its target is the object of the same kind and name.</summary>
public sealed class KustomizationPatch
{
    public string Path { get; set; } = "";
}

public sealed class KustomizationImage
{
    public string Name { get; set; } = "";
    public string? NewName { get; set; }
    public string? NewTag { get; set; }
}

public sealed class KustomizationGenerator
{
    public string Name { get; set; } = "";
    public IList<string> Envs { get; set; } = [];
    public IList<string> Literals { get; set; } = [];
}

public sealed class KustomizationGeneratorOptions
{
    public bool DisableNameSuffixHash { get; set; }
}
