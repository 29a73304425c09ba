using System.Diagnostics;
using System.Text.RegularExpressions;
using CellSeg.Deployment.Tests.Manifests;
using k8s.Models;

namespace CellSeg.Deployment.Tests;

public sealed partial class SecretTests
{
    private const string Placeholder = "CHANGE_ME";

    private static readonly string[] s_bashLocations = ["/bin/bash", "/usr/bin/bash"];

    /// <summary>A password assignment in any syntax the files use: key: value, KEY=value, Password=value;.</summary>
    [GeneratedRegex(@"(?i)(password|passwd|pwd|requirepass|secret|token)[""']?\s*[:=]\s*[""']?(?<value>[^\s;,""']+)")]
    private static partial Regex PasswordAssignment();

    /// <summary>Files committed under deploy/kubernetes, plus the deployment guide.</summary>
    private static IEnumerable<string> CommittedFiles()
    {
        var ignored = GitIgnoredEnvFiles();
        return Directory.EnumerateFiles(ManifestLoader.KubernetesRoot, "*", SearchOption.AllDirectories)
            .Where(path => !ignored.Contains(Path.GetRelativePath(ManifestLoader.KubernetesRoot, path).Replace('\\', '/')))
            .Append(Path.Combine(ManifestLoader.RepositoryRoot, "docs", "deploy.md"));
    }

    private static HashSet<string> GitIgnoredEnvFiles() =>
        File.ReadAllLines(Path.Combine(ManifestLoader.KubernetesRoot, ".gitignore"))
            .Where(line => line.Length > 0 && !line.StartsWith('#'))
            .ToHashSet(StringComparer.Ordinal);

    [Fact]
    public void NoCommittedManifestDefinesASecret()
    {
        var secrets = ManifestLoader.AllYamlFiles()
            .SelectMany(file => ManifestLoader.LoadFile(file).OfType<V1Secret>().Select(secret => $"{file}: {secret.Metadata?.Name}"))
            .ToList();

        Assert.Empty(secrets);
    }

    [Fact]
    public void NoCommittedFileHoldsARealLookingPassword()
    {
        var findings = CommittedFiles()
            .SelectMany(path => File.ReadAllLines(path).Select((line, index) => (path, line, number: index + 1)))
            .SelectMany(line => PasswordAssignment().Matches(line.line).Select(match => (line.path, line.number, value: match.Groups["value"].Value)))
            .Where(finding => !IsPlaceholder(finding.value))
            .Select(finding => $"{Path.GetRelativePath(ManifestLoader.RepositoryRoot, finding.path)}:{finding.number}: {finding.value}")
            .ToList();

        Assert.Empty(findings);
    }

    [Fact]
    public void TheScannerFlagsAPasswordInAConnectionString()
    {
        var matches = PasswordAssignment().Matches("cellsegdb=Host=db;Username=cellseg;Password=hunter2hunter2;Database=cellsegdb");

        Assert.Equal("hunter2hunter2", Assert.Single(matches).Groups["value"].Value);
        Assert.False(IsPlaceholder("hunter2hunter2"));
    }

    [Fact]
    public void EverySecretEnvFileIsGitIgnoredAndHasACommittedExampleWithPlaceholders()
    {
        var ignored = GitIgnoredEnvFiles();
        var generated = Directory.EnumerateFiles(ManifestLoader.KubernetesRoot, "kustomization.yaml", SearchOption.AllDirectories)
            .SelectMany(path => ManifestLoader.Load(File.ReadAllText(path)).OfType<KustomizationFile>().Single().SecretGenerator
                .SelectMany(generator => generator.Envs)
                .Select(env => Path.GetRelativePath(ManifestLoader.KubernetesRoot, Path.Combine(Path.GetDirectoryName(path)!, env)).Replace('\\', '/')))
            .ToList();

        Assert.NotEmpty(generated);
        Assert.All(generated, env =>
        {
            Assert.Contains(env, ignored);
            var example = OverlayRenderer.ReadEnvFile(OverlayRenderer.ExampleFor(Path.Combine(ManifestLoader.KubernetesRoot, env)));
            Assert.All(example.Where(pair => pair.Key.Contains("password", StringComparison.OrdinalIgnoreCase)), pair => Assert.Equal(Placeholder, pair.Value));
        });
    }

    [Fact]
    public void TheDevScriptFillsEveryPlaceholderWithMatchingRandomPasswords()
    {
        var bash = s_bashLocations.FirstOrDefault(File.Exists);
        Assert.True(bash is not null, "bash is not installed");
        var copy = Directory.CreateTempSubdirectory("cellseg-dev-secrets-");
        try
        {
            var dev = Path.Combine(ManifestLoader.KubernetesRoot, "overlays", "dev");
            File.Copy(Path.Combine(dev, "make-secrets.sh"), Path.Combine(copy.FullName, "make-secrets.sh"));
            File.Copy(Path.Combine(dev, "secrets.example.env"), Path.Combine(copy.FullName, "secrets.example.env"));
            using (var script = Process.Start(new ProcessStartInfo(bash!, [Path.Combine(copy.FullName, "make-secrets.sh")]) { RedirectStandardOutput = true })!)
            {
                Assert.True(script.WaitForExit(TimeSpan.FromSeconds(30)));
                Assert.Equal(0, script.ExitCode);
            }

            var secrets = OverlayRenderer.ReadEnvFile(Path.Combine(copy.FullName, "secrets.env")).ToDictionary();
            var example = OverlayRenderer.ReadEnvFile(Path.Combine(copy.FullName, "secrets.example.env")).ToDictionary();
            Assert.Equal(example.Keys.Order(), secrets.Keys.Order());
            Assert.DoesNotContain(secrets.Values, value => value.Contains(Placeholder, StringComparison.Ordinal));
            Assert.Matches("^[0-9a-f]{32}$", secrets["postgres-password"]);
            Assert.NotEqual(secrets["postgres-password"], secrets["redis-password"]);
            Assert.Contains($"Password={secrets["postgres-password"]};", secrets["cellsegdb"], StringComparison.Ordinal);
            Assert.EndsWith($"password={secrets["redis-password"]}", secrets["redis"], StringComparison.Ordinal);
        }
        finally
        {
            copy.Delete(recursive: true);
        }
    }

    /// <summary>The placeholder, a reference resolved elsewhere ($(VAR), ${VAR}, {{ }}), a boolean, or a key's name.</summary>
    private static bool IsPlaceholder(string value) =>
        value.Contains(Placeholder, StringComparison.Ordinal)
        || value.StartsWith('$')
        || value.StartsWith('{')
        || value is "true" or "false"
        || Regex.IsMatch(value, "^[a-z]+(-[a-z]+)+$");
}
