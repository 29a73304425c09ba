using System.Collections.Concurrent;
using k8s.Models;

namespace CellSeg.Deployment.Tests.Manifests;

/// <summary>The objects one kustomization renders to, with the look-ups the tests share.</summary>
public sealed class RenderedOverlay(string name, IReadOnlyList<object> objects)
{
    public const string SecretName = "cellseg-connections";

    private static readonly ConcurrentDictionary<string, RenderedOverlay> s_rendered = new();

    /// <summary>The base and every overlay under deploy/kubernetes/overlays.</summary>
    public static IReadOnlyList<string> Names { get; } =
        ["base", .. Directory.EnumerateDirectories(Path.Combine(ManifestLoader.KubernetesRoot, "overlays")).Select(directory => Path.GetFileName(directory)).Order(StringComparer.Ordinal)];

    public static TheoryData<string> AllNames => new(Names);

    public string Name => name;

    public IReadOnlyList<object> Objects => objects;

    public static string DirectoryOf(string overlay) =>
        overlay == "base"
            ? Path.Combine(ManifestLoader.KubernetesRoot, "base")
            : Path.Combine(ManifestLoader.KubernetesRoot, "overlays", overlay);

    public static RenderedOverlay Get(string overlay) =>
        s_rendered.GetOrAdd(overlay, key => new RenderedOverlay(key, OverlayRenderer.Render(DirectoryOf(key))));

    public IEnumerable<T> All<T>() => objects.OfType<T>();

    public V1Deployment Deployment(string deploymentName) => Single<V1Deployment>(deploymentName, d => d.Metadata.Name);

    public V1Service Service(string serviceName) => Single<V1Service>(serviceName, s => s.Metadata.Name);

    public V1Job Job(string jobName) => Single<V1Job>(jobName, j => j.Metadata.Name);

    /// <summary>Every pod template with the workload that owns it: Deployments, StatefulSets and Jobs.</summary>
    public IEnumerable<(string Workload, V1PodTemplateSpec Template)> PodTemplates() =>
        All<V1Deployment>().Select(d => ($"Deployment/{d.Metadata.Name}", d.Spec.Template))
            .Concat(All<V1StatefulSet>().Select(s => ($"StatefulSet/{s.Metadata.Name}", s.Spec.Template)))
            .Concat(All<V1Job>().Select(j => ($"Job/{j.Metadata.Name}", j.Spec.Template)));

    /// <summary>
    /// The environment a container starts with, as Kubernetes builds it: envFrom first, then env on top. Each value
    /// says where it comes from.
    /// </summary>
    public IReadOnlyDictionary<string, EnvironmentValue> EnvironmentOf(V1Container container)
    {
        var environment = new Dictionary<string, EnvironmentValue>(StringComparer.Ordinal);
        foreach (var source in container.EnvFrom ?? [])
        {
            if (source.ConfigMapRef is { } configMapRef)
            {
                var configMap = Single<V1ConfigMap>(configMapRef.Name, c => c.Metadata.Name);
                foreach (var (key, value) in configMap.Data ?? new Dictionary<string, string>())
                {
                    environment[(source.Prefix ?? "") + key] = new EnvironmentValue(value, null, null, $"ConfigMap/{configMapRef.Name}");
                }
            }

            if (source.SecretRef is not null)
            {
                throw new NotSupportedException("envFrom a Secret is not used here: each secret value is referenced by key.");
            }
        }

        foreach (var variable in container.Env ?? [])
        {
            environment[variable.Name] = variable.ValueFrom switch
            {
                null => new EnvironmentValue(variable.Value, null, null, "env"),
                { SecretKeyRef: { } secret } => new EnvironmentValue(null, secret.Name, secret.Key, $"Secret/{secret.Name}"),
                { ConfigMapKeyRef: { } map } => new EnvironmentValue(
                    Single<V1ConfigMap>(map.Name, c => c.Metadata.Name).Data[map.Key], null, null, $"ConfigMap/{map.Name}"),
                { FieldRef: { } field } => new EnvironmentValue(null, null, null, $"field {field.FieldPath}"),
                _ => throw new NotSupportedException($"{variable.Name}: an unexpected valueFrom."),
            };
        }

        return environment;
    }

    public override string ToString() => name;

    private T Single<T>(string objectName, Func<T, string> nameOf)
    {
        var matches = objects.OfType<T>().Where(o => nameOf(o) == objectName).ToList();
        return matches.Count == 1
            ? matches[0]
            : throw new InvalidOperationException($"{name}: {matches.Count} {typeof(T).Name} named {objectName}.");
    }
}

/// <summary>A container's environment variable: a literal value, a Secret key, or a ConfigMap value.</summary>
public sealed record EnvironmentValue(string? Value, string? SecretName, string? SecretKey, string Source);
