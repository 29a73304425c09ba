using CellSeg.Deployment.Tests.Manifests;
using k8s.Models;

namespace CellSeg.Deployment.Tests;

public sealed class NetworkPolicyTests
{
    private const int Http = 8080;
    private const int Postgres = 5432;
    private const int Redis = 6379;

    private static readonly IDictionary<string, string> s_ingressController = new Dictionary<string, string> { ["app.kubernetes.io/name"] = "ingress-nginx" };
    private static readonly IDictionary<string, string> s_dns = new Dictionary<string, string> { ["k8s-app"] = "kube-dns" };
    private static readonly IDictionary<string, string> s_keda = new Dictionary<string, string> { ["app"] = "keda-operator" };
    private static readonly IDictionary<string, string> s_stranger = new Dictionary<string, string> { ["app"] = "debug-shell" };

    public static TheoryData<string> DevOverlays => ["dev"];

    private sealed class Cluster(string overlay)
    {
        private readonly RenderedOverlay _rendered = RenderedOverlay.Get(overlay);

        public IReadOnlyList<V1NetworkPolicy> Policies => _rendered.All<V1NetworkPolicy>().ToList();

        public NetworkEndpoint Pod(string workload) => NetworkEndpoint.Pod("cellseg", _rendered.PodTemplates().Single(w => w.Workload.EndsWith($"/{workload}", StringComparison.Ordinal)).Template.Metadata.Labels);

        public bool Allows(NetworkEndpoint from, NetworkEndpoint to, int port, string protocol = "TCP") =>
            NetworkPolicyEvaluator.Allows(Policies, from, to, port, protocol);
    }

    [Theory]
    [MemberData(nameof(RenderedOverlay.AllNames), MemberType = typeof(RenderedOverlay))]
    public void EverythingIsDeniedUnlessAllowedInBothDirections(string overlay)
    {
        var cluster = new Cluster(overlay);

        var denyAll = Assert.Single(cluster.Policies, p => p.Spec.PodSelector.MatchLabels is null && p.Spec.PodSelector.MatchExpressions is null && p.Spec.Ingress is null && p.Spec.Egress is null);
        Assert.Equal(["Ingress", "Egress"], denyAll.Spec.PolicyTypes);
        Assert.False(cluster.Allows(cluster.Pod("inference"), NetworkEndpoint.Outside, 443), "Inference reaches the internet.");
        Assert.False(cluster.Allows(cluster.Pod("api"), NetworkEndpoint.Outside, 443), "The Api reaches the internet.");
    }

    [Theory]
    [MemberData(nameof(RenderedOverlay.AllNames), MemberType = typeof(RenderedOverlay))]
    public void OnlyTheApiIsReachableFromOutsideTheNamespace(string overlay)
    {
        var cluster = new Cluster(overlay);
        var ingressController = NetworkEndpoint.Pod("ingress-nginx", s_ingressController);

        Assert.True(cluster.Allows(ingressController, cluster.Pod("api"), Http));
        Assert.False(cluster.Allows(ingressController, cluster.Pod("inference"), Http));
        Assert.False(cluster.Allows(ingressController, cluster.Pod("queueworker"), Http));
        Assert.False(cluster.Allows(ingressController, cluster.Pod("api"), Postgres));
    }

    [Theory]
    [MemberData(nameof(RenderedOverlay.AllNames), MemberType = typeof(RenderedOverlay))]
    public void OnlyTheQueueWorkerReachesInference(string overlay)
    {
        var cluster = new Cluster(overlay);

        Assert.True(cluster.Allows(cluster.Pod("queueworker"), cluster.Pod("inference"), Http));
        Assert.False(cluster.Allows(cluster.Pod("api"), cluster.Pod("inference"), Http));
        Assert.False(cluster.Allows(NetworkEndpoint.Pod("cellseg", s_stranger), cluster.Pod("inference"), Http));
    }

    [Theory]
    [MemberData(nameof(RenderedOverlay.AllNames), MemberType = typeof(RenderedOverlay))]
    public void OnlyTheApiTheQueueWorkerAndTheMigrationReachPostgresAndRedis(string overlay)
    {
        var cluster = new Cluster(overlay);

        foreach (var workload in new[] { "api", "queueworker" })
        {
            Assert.True(cluster.Allows(cluster.Pod(workload), NetworkEndpoint.Outside, Postgres), $"{workload} cannot reach Postgres.");
            Assert.True(cluster.Allows(cluster.Pod(workload), NetworkEndpoint.Outside, Redis), $"{workload} cannot reach Redis.");
        }

        Assert.True(cluster.Allows(cluster.Pod("migrate"), NetworkEndpoint.Outside, Postgres));
        Assert.True(cluster.Allows(cluster.Pod("migrate"), NetworkEndpoint.Outside, Redis));
        Assert.False(cluster.Allows(cluster.Pod("inference"), NetworkEndpoint.Outside, Postgres));
        Assert.False(cluster.Allows(cluster.Pod("inference"), NetworkEndpoint.Outside, Redis));
    }

    [Theory]
    [MemberData(nameof(RenderedOverlay.AllNames), MemberType = typeof(RenderedOverlay))]
    public void EveryPodResolvesNamesAndExportsTelemetry(string overlay)
    {
        var cluster = new Cluster(overlay);
        var dns = NetworkEndpoint.Pod("kube-system", s_dns);

        foreach (var workload in new[] { "api", "queueworker", "inference", "migrate" })
        {
            Assert.True(cluster.Allows(cluster.Pod(workload), dns, 53, "UDP"), $"{workload} cannot resolve names.");
            Assert.True(cluster.Allows(cluster.Pod(workload), NetworkEndpoint.Outside, 4317), $"{workload} cannot export OTLP.");
        }
    }

    [Theory]
    [MemberData(nameof(DevOverlays))]
    public void TheDevDatastoresAcceptOnlyTheServicesThatUseThemAndKeda(string overlay)
    {
        var cluster = new Cluster(overlay);
        var postgres = cluster.Pod("postgres");
        var redis = cluster.Pod("redis");
        var keda = NetworkEndpoint.Pod("keda", s_keda);

        Assert.True(cluster.Allows(cluster.Pod("api"), postgres, Postgres));
        Assert.True(cluster.Allows(cluster.Pod("migrate"), postgres, Postgres));
        Assert.True(cluster.Allows(cluster.Pod("migrate"), redis, Redis));
        Assert.True(cluster.Allows(cluster.Pod("queueworker"), redis, Redis));
        Assert.True(cluster.Allows(keda, redis, Redis));
        Assert.False(cluster.Allows(cluster.Pod("inference"), postgres, Postgres));
        Assert.False(cluster.Allows(cluster.Pod("inference"), redis, Redis));
        Assert.False(cluster.Allows(NetworkEndpoint.Pod("cellseg", s_stranger), postgres, Postgres));
        Assert.False(cluster.Allows(keda, postgres, Postgres));
        Assert.False(cluster.Allows(NetworkEndpoint.Pod("ingress-nginx", s_ingressController), redis, Redis));
    }
}
