using k8s.Models;

namespace CellSeg.Deployment.Tests.Manifests;

/// <summary>One end of a connection: a pod (its namespace and labels) or an address outside the cluster.</summary>
public sealed record NetworkEndpoint(string Namespace, IDictionary<string, string>? PodLabels)
{
    /// <summary>Somewhere outside the cluster: a managed database, the internet.</summary>
    public static NetworkEndpoint Outside { get; } = new("", null);

    public static NetworkEndpoint Pod(string ns, IDictionary<string, string> labels) => new(ns, labels);

    /// <summary>Kubernetes labels every namespace with its name.</summary>
    public IDictionary<string, string> NamespaceLabels => new Dictionary<string, string> { ["kubernetes.io/metadata.name"] = Namespace };
}

/// <summary>
/// Decides whether NetworkPolicies let a connection through, by the Kubernetes rules: a pod selected by a policy of a
/// direction accepts only what one of those policies' rules allows (an empty peer list or port list matches all), and
/// a connection needs both the source's egress and the destination's ingress. ipBlock peers and named ports are not
/// evaluated: a policy that uses them fails the test instead of passing it by accident.
/// </summary>
public static class NetworkPolicyEvaluator
{
    public static bool Allows(IReadOnlyList<V1NetworkPolicy> policies, NetworkEndpoint source, NetworkEndpoint destination, int port, string protocol = "TCP") =>
        Allowed(policies, "Egress", source, destination, port, protocol)
        && Allowed(policies, "Ingress", destination, source, port, protocol);

    private static bool Allowed(IReadOnlyList<V1NetworkPolicy> policies, string direction, NetworkEndpoint pod, NetworkEndpoint peer, int port, string protocol)
    {
        if (pod.PodLabels is null)
        {
            return true;
        }

        var selecting = policies
            .Where(policy => policy.Metadata.NamespaceProperty == pod.Namespace
                && Matches(policy.Spec.PodSelector, pod.PodLabels)
                && AppliesTo(policy, direction))
            .ToList();
        if (selecting.Count == 0)
        {
            return true;
        }

        return selecting.Any(policy => direction == "Egress"
            ? (policy.Spec.Egress ?? []).Any(rule => PortsMatch(rule.Ports, port, protocol) && PeersMatch(rule.To, peer, pod.Namespace))
            : (policy.Spec.Ingress ?? []).Any(rule => PortsMatch(rule.Ports, port, protocol) && PeersMatch(rule.FromProperty, peer, pod.Namespace)));
    }

    private static bool AppliesTo(V1NetworkPolicy policy, string direction) =>
        policy.Spec.PolicyTypes?.Contains(direction) ?? (direction == "Ingress" || policy.Spec.Egress is not null);

    private static bool PortsMatch(IList<V1NetworkPolicyPort>? ports, int port, string protocol) =>
        ports is null || ports.Count == 0 || ports.Any(candidate =>
            (candidate.Protocol ?? "TCP") == protocol
            && (candidate.Port is null || PortNumber(candidate.Port) == port || (candidate.EndPort is { } end && PortNumber(candidate.Port) <= port && port <= end)));

    private static int PortNumber(IntOrString port) =>
        int.TryParse(port.Value, out var number) ? number : throw new NotSupportedException($"Named port '{port.Value}' in a NetworkPolicy.");

    private static bool PeersMatch(IList<V1NetworkPolicyPeer>? peers, NetworkEndpoint peer, string policyNamespace) =>
        peers is null || peers.Count == 0 || peers.Any(candidate =>
        {
            if (candidate.IpBlock is not null)
            {
                throw new NotSupportedException("ipBlock peers are not evaluated.");
            }

            if (peer.PodLabels is null)
            {
                return false;
            }

            var namespaceMatches = candidate.NamespaceSelector is null
                ? peer.Namespace == policyNamespace
                : Matches(candidate.NamespaceSelector, peer.NamespaceLabels);
            return namespaceMatches && (candidate.PodSelector is null || Matches(candidate.PodSelector, peer.PodLabels));
        });

    public static bool Matches(V1LabelSelector selector, IDictionary<string, string> labels) =>
        (selector.MatchLabels ?? new Dictionary<string, string>()).All(pair => labels.TryGetValue(pair.Key, out var value) && value == pair.Value)
        && (selector.MatchExpressions ?? []).All(expression => expression.OperatorProperty switch
        {
            "In" => labels.TryGetValue(expression.Key, out var value) && expression.Values.Contains(value),
            "NotIn" => !labels.TryGetValue(expression.Key, out var value) || !expression.Values.Contains(value),
            "Exists" => labels.ContainsKey(expression.Key),
            "DoesNotExist" => !labels.ContainsKey(expression.Key),
            _ => throw new NotSupportedException($"Label selector operator {expression.OperatorProperty}."),
        });
}
