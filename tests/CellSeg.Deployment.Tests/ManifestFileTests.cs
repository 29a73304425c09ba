using CellSeg.Deployment.Tests.Manifests;
using k8s;

namespace CellSeg.Deployment.Tests;

public sealed class ManifestFileTests
{
    public static TheoryData<string> YamlFiles => new(ManifestLoader.AllYamlFiles());

    [Theory]
    [MemberData(nameof(YamlFiles))]
    public void EveryYamlFileLoadsStrictlyAsKubernetesObjects(string file)
    {
        var objects = ManifestLoader.LoadFile(file);

        Assert.NotEmpty(objects);
        Assert.All(objects, o => Assert.IsAssignableFrom<IKubernetesObject>(o));
    }

    [Fact]
    public void TheStrictLoaderRejectsAMisspelledField()
    {
        const string misspelled = """
            apiVersion: apps/v1
            kind: Deployment
            metadata:
              name: api
            spec:
              replica: 2
            """;

        Assert.ThrowsAny<Exception>(() => ManifestLoader.Load(misspelled));
    }

    [Fact]
    public void EveryFileUnderDeployKubernetesIsPartOfSomeKustomization()
    {
        var referenced = new HashSet<string>(StringComparer.Ordinal);
        foreach (var kustomizationPath in Directory.EnumerateFiles(ManifestLoader.KubernetesRoot, "kustomization.yaml", SearchOption.AllDirectories))
        {
            var directory = Path.GetDirectoryName(kustomizationPath)!;
            var kustomization = ManifestLoader.Load(File.ReadAllText(kustomizationPath)).OfType<KustomizationFile>().Single();
            referenced.Add(kustomizationPath);
            foreach (var path in kustomization.Resources.Concat(kustomization.Patches.Select(p => p.Path)))
            {
                var full = Path.GetFullPath(Path.Combine(directory, path));
                Assert.True(File.Exists(full) || File.Exists(Path.Combine(full, "kustomization.yaml")), $"{kustomizationPath} refers to {path}, which does not exist.");
                referenced.Add(full);
            }

            foreach (var envFile in kustomization.SecretGenerator.Concat(kustomization.ConfigMapGenerator).SelectMany(g => g.Envs))
            {
                referenced.Add(OverlayRenderer.ExampleFor(Path.GetFullPath(Path.Combine(directory, envFile))));
            }
        }

        var unreferenced = ManifestLoader.AllYamlFiles()
            .Select(file => Path.GetFullPath(Path.Combine(ManifestLoader.KubernetesRoot, file)))
            .Concat(Directory.EnumerateFiles(ManifestLoader.KubernetesRoot, "*.example.env", SearchOption.AllDirectories))
            .Where(file => !referenced.Contains(file))
            .ToList();
        Assert.Empty(unreferenced);
    }
}
