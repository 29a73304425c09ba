using System.Diagnostics;
using YamlDotNet.RepresentationModel;

namespace CellSeg.Deployment.Tests.Manifests;

/// <summary>
/// kustomize itself, as built into kubectl, where kubectl is on the PATH: renders an overlay from a copy of
/// deploy/kubernetes whose git-ignored env files are made from the committed examples. It reads local files only.
/// </summary>
public static class KubectlKustomize
{
    private static readonly Lazy<string> s_copy = new(CopyWithExampleSecrets);

    public static string? Executable { get; } = (Environment.GetEnvironmentVariable("PATH") ?? "")
        .Split(Path.PathSeparator, StringSplitOptions.RemoveEmptyEntries)
        .Select(directory => Path.Combine(directory, "kubectl"))
        .FirstOrDefault(File.Exists);

    public static List<YamlMappingNode> Render(string overlay)
    {
        var directory = overlay == "base"
            ? Path.Combine(s_copy.Value, "base")
            : Path.Combine(s_copy.Value, "overlays", overlay);
        var start = new ProcessStartInfo(Executable ?? throw new InvalidOperationException("kubectl is not on the PATH."))
        {
            RedirectStandardOutput = true,
            RedirectStandardError = true,
            UseShellExecute = false,
        };
        start.ArgumentList.Add("kustomize");
        start.ArgumentList.Add(directory);

        using var process = Process.Start(start) ?? throw new InvalidOperationException("kubectl did not start.");
        var output = process.StandardOutput.ReadToEndAsync();
        var error = process.StandardError.ReadToEndAsync();
        if (!process.WaitForExit(TimeSpan.FromSeconds(60)))
        {
            process.Kill(entireProcessTree: true);
            throw new TimeoutException($"kubectl kustomize {overlay} ran past 60 s.");
        }

        return process.ExitCode == 0
            ? YamlTree.Parse(output.Result)
            : throw new InvalidOperationException($"kubectl kustomize {overlay} exited {process.ExitCode}: {error.Result}");
    }

    private static string CopyWithExampleSecrets()
    {
        var copy = Path.Combine(Path.GetTempPath(), $"cellseg-kustomize-{Environment.ProcessId}-{Guid.NewGuid():N}");
        // A developer's real env files stay where they are: the copy gets the examples in their place.
        var files = Directory.EnumerateFiles(ManifestLoader.KubernetesRoot, "*", SearchOption.AllDirectories)
            .Where(file => !file.EndsWith(".env", StringComparison.Ordinal) || file.EndsWith(".example.env", StringComparison.Ordinal));
        foreach (var file in files)
        {
            var target = Path.Combine(copy, Path.GetRelativePath(ManifestLoader.KubernetesRoot, file));
            Directory.CreateDirectory(Path.GetDirectoryName(target)!);
            File.Copy(file, target);
        }

        foreach (var example in Directory.EnumerateFiles(copy, "*.example.env", SearchOption.AllDirectories))
        {
            File.Copy(example, example.Replace(".example.env", ".env", StringComparison.Ordinal), overwrite: true);
        }

        AppDomain.CurrentDomain.ProcessExit += (_, _) => Directory.Delete(copy, recursive: true);
        return copy;
    }
}
