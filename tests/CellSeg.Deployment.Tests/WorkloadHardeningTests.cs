using CellSeg.Deployment.Tests.Manifests;
using k8s.Models;

namespace CellSeg.Deployment.Tests;

public sealed class WorkloadHardeningTests
{
    /// <summary>The app user of the .NET container images.</summary>
    private const long DotnetAppUser = 1654;

    private static readonly string[] s_services = ["api", "queueworker", "inference"];

    private static readonly string[] s_computeResources = ["cpu", "memory"];

    [Theory]
    [MemberData(nameof(RenderedOverlay.AllNames), MemberType = typeof(RenderedOverlay))]
    public void EveryDeploymentProbesReadinessOnHealthAndLivenessOnAlive(string overlay)
    {
        var deployments = RenderedOverlay.Get(overlay).All<V1Deployment>().ToList();

        Assert.Equal(s_services.Order(), deployments.Select(d => d.Metadata.Name).Order());
        Assert.All(deployments.SelectMany(d => d.Spec.Template.Spec.Containers), container =>
        {
            Assert.Equal("/health", container.ReadinessProbe?.HttpGet?.Path);
            Assert.Equal("/alive", container.LivenessProbe?.HttpGet?.Path);
            var ports = container.Ports.Select(p => p.Name).Concat(container.Ports.Select(p => p.ContainerPort.ToString(System.Globalization.CultureInfo.InvariantCulture)));
            Assert.Contains(container.ReadinessProbe!.HttpGet.Port.Value, ports);
            Assert.Contains(container.LivenessProbe!.HttpGet.Port.Value, ports);
        });
    }

    [Theory]
    [MemberData(nameof(RenderedOverlay.AllNames), MemberType = typeof(RenderedOverlay))]
    public void InferenceGivesItsModelsMinutesToLoadBeforeLivenessCounts(string overlay)
    {
        var container = RenderedOverlay.Get(overlay).Deployment("inference").Spec.Template.Spec.Containers.Single();

        var startup = container.StartupProbe;
        Assert.NotNull(startup);
        // /health turns healthy once every configured model is loaded.
        Assert.Equal("/health", startup.HttpGet?.Path);
        Assert.True((startup.PeriodSeconds ?? 10) * (startup.FailureThreshold ?? 3) >= 120, "The startup probe allows less than 2 minutes.");
    }

    [Theory]
    [MemberData(nameof(RenderedOverlay.AllNames), MemberType = typeof(RenderedOverlay))]
    public void EveryPodRunsAsNonRootWithAReadOnlyRootFilesystemAndNoCapabilities(string overlay)
    {
        var templates = RenderedOverlay.Get(overlay).PodTemplates().ToList();

        Assert.NotEmpty(templates);
        Assert.All(templates, workload =>
        {
            var pod = workload.Template.Spec;
            Assert.True(pod.SecurityContext?.RunAsNonRoot, $"{workload.Workload}: the pod may run as root.");
            Assert.Equal("RuntimeDefault", pod.SecurityContext?.SeccompProfile?.Type);
            Assert.False(pod.AutomountServiceAccountToken, $"{workload.Workload}: mounts an API token it does not use.");
            Assert.All(pod.Containers.Concat(pod.InitContainers ?? []), container =>
            {
                var security = container.SecurityContext;
                Assert.NotNull(security);
                Assert.True(security.RunAsNonRoot, $"{workload.Workload}/{container.Name}: may run as root.");
                Assert.True(security.ReadOnlyRootFilesystem, $"{workload.Workload}/{container.Name}: writable root filesystem.");
                Assert.False(security.AllowPrivilegeEscalation, $"{workload.Workload}/{container.Name}: privilege escalation allowed.");
                Assert.Contains("ALL", security.Capabilities?.Drop ?? []);
                Assert.Null(security.Capabilities?.Add);
                Assert.Equal("RuntimeDefault", security.SeccompProfile?.Type);
            });
        });
    }

    [Theory]
    [MemberData(nameof(RenderedOverlay.AllNames), MemberType = typeof(RenderedOverlay))]
    public void EveryContainerRequestsAndLimitsCpuAndMemory(string overlay)
    {
        var containers = RenderedOverlay.Get(overlay).PodTemplates()
            .SelectMany(workload => workload.Template.Spec.Containers.Select(container => (workload.Workload, container)))
            .ToList();

        Assert.All(containers, item =>
        {
            var resources = item.container.Resources;
            foreach (var resource in s_computeResources)
            {
                Assert.True(resources?.Requests?.ContainsKey(resource), $"{item.Workload}: no {resource} request.");
                Assert.True(resources?.Limits?.ContainsKey(resource), $"{item.Workload}: no {resource} limit.");
            }
        });
    }

    [Theory]
    [MemberData(nameof(RenderedOverlay.AllNames), MemberType = typeof(RenderedOverlay))]
    public void TheServicesRunAsTheDotnetAppUserWithAWritableTmp(string overlay)
    {
        var rendered = RenderedOverlay.Get(overlay);
        var templates = s_services.Select(name => rendered.Deployment(name).Spec.Template)
            .Append(rendered.Job("migrate").Spec.Template);

        Assert.All(templates, template =>
        {
            var pod = template.Spec;
            var tmp = pod.Volumes.Single(volume => volume.Name == pod.Containers.Single().VolumeMounts.Single(mount => mount.MountPath == "/tmp").Name);
            Assert.NotNull(tmp.EmptyDir);
            Assert.Equal(DotnetAppUser, pod.Containers.Single().SecurityContext.RunAsUser ?? pod.SecurityContext.RunAsUser);
        });
    }
}
