using CellSeg.Deployment.Tests.Manifests;
using k8s.Models;

namespace CellSeg.Deployment.Tests;

public sealed class ConfigurationTests
{
    /// <summary>
    /// What each service reads at start-up (its Extensions.AddApplicationServices, the ServiceDefaults' telemetry, the
    /// QueueWorker's service discovery of http://inference), under the names the AppHost gives them.
    /// </summary>
    private static readonly Dictionary<string, string[]> s_settingsReadAtStartUp = new()
    {
        ["api"] = ["ConnectionStrings__cellsegdb", "ConnectionStrings__redis", .. Telemetry()],
        ["queueworker"] = ["ConnectionStrings__cellsegdb", "ConnectionStrings__redis", "services__inference__http__0", .. Telemetry()],
        ["inference"] = ["Inference__Models__0", "Inference__Device", "Inference__IntraOpThreads", .. Telemetry()],
    };

    private static readonly string[] s_connectionStrings = ["ConnectionStrings__cellsegdb", "ConnectionStrings__redis"];

    private static string[] Telemetry() => ["OTEL_EXPORTER_OTLP_ENDPOINT", "OTEL_SERVICE_NAME", "OTEL_RESOURCE_ATTRIBUTES"];

    public static TheoryData<string> SecretTemplates => new(
        Directory.EnumerateFiles(ManifestLoader.KubernetesRoot, "*.example.env", SearchOption.AllDirectories)
            .Select(path => Path.GetRelativePath(ManifestLoader.KubernetesRoot, path).Replace('\\', '/'))
            .Order(StringComparer.Ordinal));

    [Theory]
    [MemberData(nameof(RenderedOverlay.AllNames), MemberType = typeof(RenderedOverlay))]
    public void EveryServiceGetsEverySettingItReadsAtStartUp(string overlay)
    {
        var rendered = RenderedOverlay.Get(overlay);

        foreach (var (service, settings) in s_settingsReadAtStartUp)
        {
            var environment = rendered.EnvironmentOf(rendered.Deployment(service).Spec.Template.Spec.Containers.Single());
            Assert.All(settings, setting =>
            {
                Assert.True(environment.TryGetValue(setting, out var value), $"{overlay}: {service} does not get {setting}.");
                Assert.True(value.SecretKey is not null || !string.IsNullOrWhiteSpace(value.Value), $"{overlay}: {service} gets an empty {setting}.");
            });
            Assert.Equal(service, environment["OTEL_SERVICE_NAME"].Value);
        }
    }

    [Theory]
    [MemberData(nameof(RenderedOverlay.AllNames), MemberType = typeof(RenderedOverlay))]
    public void ConnectionStringsComeFromTheSecretAndNeverFromAPlainValue(string overlay)
    {
        var rendered = RenderedOverlay.Get(overlay);
        var containers = rendered.PodTemplates().SelectMany(workload => workload.Template.Spec.Containers).ToList();

        Assert.All(containers, container =>
        {
            foreach (var (name, value) in rendered.EnvironmentOf(container))
            {
                if (s_connectionStrings.Contains(name) || name.Contains("PASSWORD", StringComparison.OrdinalIgnoreCase))
                {
                    Assert.Equal(RenderedOverlay.SecretName, value.SecretName);
                }
            }
        });
    }

    [Theory]
    [MemberData(nameof(SecretTemplates))]
    public void EverySecretKeyTheWorkloadsReferenceIsInEachSecretTemplate(string template)
    {
        var keys = OverlayRenderer.ReadEnvFile(Path.Combine(ManifestLoader.KubernetesRoot, template)).Select(pair => pair.Key).ToHashSet();
        var overlay = template.Split('/')[1];
        var rendered = RenderedOverlay.Get(overlay);

        var referenced = rendered.PodTemplates()
            .SelectMany(workload => workload.Template.Spec.Containers)
            .SelectMany(container => rendered.EnvironmentOf(container).Values)
            .Where(value => value.SecretName is not null)
            .Select(value => value.SecretKey!)
            .Concat(rendered.All<TriggerAuthentication>().SelectMany(auth => auth.Spec.SecretTargetRef).Select(reference => reference.Key))
            .Distinct()
            .ToList();

        Assert.NotEmpty(referenced);
        Assert.All(referenced, key => Assert.Contains(key, keys));
        // The generated Secret itself is part of the render.
        var secret = rendered.All<V1Secret>().Single(s => s.Metadata.Name == RenderedOverlay.SecretName);
        Assert.Equal(keys.Order(), (secret.StringData?.Keys ?? []).Order());
    }

    [Theory]
    [MemberData(nameof(RenderedOverlay.AllNames), MemberType = typeof(RenderedOverlay))]
    public void TheQueueWorkerFindsInferenceThroughItsService(string overlay)
    {
        var rendered = RenderedOverlay.Get(overlay);
        var inference = rendered.Deployment("inference").Spec.Template;
        var worker = rendered.EnvironmentOf(rendered.Deployment("queueworker").Spec.Template.Spec.Containers.Single());

        var address = new Uri(worker["services__inference__http__0"].Value!);
        var service = rendered.Service(address.Host);
        Assert.Equal("http", address.Scheme);
        Assert.True(NetworkPolicyEvaluator.Matches(new V1LabelSelector { MatchLabels = service.Spec.Selector }, inference.Metadata.Labels), "The Service does not select the Inference pods.");
        var servicePort = service.Spec.Ports.Single(port => port.Port == address.Port);
        var containerPort = inference.Spec.Containers.Single().Ports.Single(port => port.Name == servicePort.TargetPort.Value || port.ContainerPort.ToString(System.Globalization.CultureInfo.InvariantCulture) == servicePort.TargetPort.Value);
        Assert.Equal(8080, containerPort.ContainerPort);
    }

    [Theory]
    [MemberData(nameof(RenderedOverlay.AllNames), MemberType = typeof(RenderedOverlay))]
    public void TheMigrationJobRunsTheApiImageInMigrateOnlyMode(string overlay)
    {
        var rendered = RenderedOverlay.Get(overlay);
        var job = rendered.Job("migrate").Spec.Template.Spec;
        var container = job.Containers.Single();
        var environment = rendered.EnvironmentOf(container);

        Assert.Equal(rendered.Deployment("api").Spec.Template.Spec.Containers.Single().Image, container.Image);
        Assert.Equal("true", environment["Database__MigrateOnly"].Value);
        Assert.Equal("cellsegdb", environment["ConnectionStrings__cellsegdb"].SecretKey);
        // The Api builds its whole host before it stops, as the functional MigrationTests run it.
        Assert.Equal("redis", environment["ConnectionStrings__redis"].SecretKey);
        Assert.Equal("Never", job.RestartPolicy);
    }

    [Theory]
    [MemberData(nameof(RenderedOverlay.AllNames), MemberType = typeof(RenderedOverlay))]
    public void EveryNamespacedObjectLandsInTheCellsegNamespace(string overlay)
    {
        var objects = RenderedOverlay.Get(overlay).Objects.OfType<k8s.IKubernetesObject<V1ObjectMeta>>().Where(o => o is not V1Namespace).ToList();

        Assert.NotEmpty(objects);
        Assert.All(objects, o => Assert.Equal("cellseg", o.Metadata.NamespaceProperty));
        Assert.Equal("cellseg", RenderedOverlay.Get(overlay).All<V1Namespace>().Single().Metadata.Name);
    }

    [Fact]
    public void ProductionPullsVersionedImagesFromARegistry()
    {
        var images = RenderedOverlay.Get("production").PodTemplates()
            .SelectMany(workload => workload.Template.Spec.Containers)
            .Select(container => container.Image)
            .ToList();

        // A registry host, a repository and a version tag: never the mutable :latest of the base.
        Assert.All(images, image => Assert.Matches(@"^[a-z0-9-]+(\.[a-z0-9-]+)+/[a-z0-9/-]+:[0-9][A-Za-z0-9.-]*$", image));
    }
}
