using CellSeg.Data.Queue;
using CellSeg.Deployment.Tests.Manifests;
using k8s.Models;

namespace CellSeg.Deployment.Tests;

public sealed class ScalingTests
{
    private static readonly string[] s_scaledOnTheQueue = ["queueworker", "inference"];

    [Theory]
    [MemberData(nameof(RenderedOverlay.AllNames), MemberType = typeof(RenderedOverlay))]
    public void KedaWatchesTheStreamAndConsumerGroupTheCodeUses(string overlay)
    {
        // The code's own defaults: renaming the stream or the group in SegmentationQueueOptions breaks this test.
        var queue = new SegmentationQueueOptions();
        var scaledObjects = RenderedOverlay.Get(overlay).All<ScaledObject>().ToList();

        Assert.Equal(s_scaledOnTheQueue.Order(), scaledObjects.Select(s => s.Spec.ScaleTargetRef.Name).Order());
        Assert.All(scaledObjects, scaledObject =>
        {
            Assert.NotEmpty(scaledObject.Spec.Triggers);
            Assert.All(scaledObject.Spec.Triggers, trigger =>
            {
                Assert.Equal("redis-streams", trigger.Type);
                Assert.Equal(queue.StreamKey, trigger.Metadata["stream"]);
                Assert.Equal(queue.ConsumerGroup, trigger.Metadata["consumerGroup"]);
            });
            Assert.Contains(scaledObject.Spec.Triggers, trigger => trigger.Metadata.TryGetValue("lagCount", out var lag) && int.Parse(lag, System.Globalization.CultureInfo.InvariantCulture) > 0);
        });
    }

    [Theory]
    [MemberData(nameof(RenderedOverlay.AllNames), MemberType = typeof(RenderedOverlay))]
    public void NoServiceIsToldToUseAnotherStreamOrGroupThanKedaWatches(string overlay)
    {
        var queue = new SegmentationQueueOptions();
        var rendered = RenderedOverlay.Get(overlay);
        var environments = rendered.PodTemplates()
            .SelectMany(workload => workload.Template.Spec.Containers)
            .Select(rendered.EnvironmentOf)
            .ToList();

        Assert.All(environments, environment =>
        {
            Assert.Equal(queue.StreamKey, environment.GetValueOrDefault($"{SegmentationQueueOptions.SectionName}__StreamKey")?.Value ?? queue.StreamKey);
            Assert.Equal(queue.ConsumerGroup, environment.GetValueOrDefault($"{SegmentationQueueOptions.SectionName}__ConsumerGroup")?.Value ?? queue.ConsumerGroup);
        });
    }

    [Theory]
    [MemberData(nameof(RenderedOverlay.AllNames), MemberType = typeof(RenderedOverlay))]
    public void KedaReadsTheRedisAddressAndPasswordFromTheSecret(string overlay)
    {
        var rendered = RenderedOverlay.Get(overlay);
        var authentications = rendered.All<TriggerAuthentication>().ToDictionary(a => a.Metadata.Name);

        Assert.All(rendered.All<ScaledObject>().SelectMany(s => s.Spec.Triggers), trigger =>
        {
            var authentication = authentications[trigger.AuthenticationRef!.Name];
            var parameters = authentication.Spec.SecretTargetRef.ToDictionary(reference => reference.Parameter);
            Assert.Equal((RenderedOverlay.SecretName, "redis-password"), (parameters["password"].Name, parameters["password"].Key));
            Assert.Equal((RenderedOverlay.SecretName, "redis-address"), (parameters["address"].Name, parameters["address"].Key));
            Assert.DoesNotContain(trigger.Metadata.Keys, key => key.StartsWith("password", StringComparison.Ordinal) || key.StartsWith("address", StringComparison.Ordinal));
        });
    }

    [Theory]
    [MemberData(nameof(RenderedOverlay.AllNames), MemberType = typeof(RenderedOverlay))]
    public void EveryDeploymentHasOneAutoscalerKeepingAtLeastTwoReplicasAndPinsNoCountItself(string overlay)
    {
        var rendered = RenderedOverlay.Get(overlay);
        var minimums = rendered.All<ScaledObject>().Select(s => (Target: s.Spec.ScaleTargetRef.Name, Min: s.Spec.MinReplicaCount ?? 0))
            .Concat(rendered.All<V2HorizontalPodAutoscaler>().Select(h => (Target: h.Spec.ScaleTargetRef.Name, Min: h.Spec.MinReplicas ?? 1)))
            .ToList();

        Assert.All(rendered.All<V1Deployment>(), deployment =>
        {
            var autoscaler = Assert.Single(minimums, m => m.Target == deployment.Metadata.Name);
            Assert.True(autoscaler.Min >= 2, $"{deployment.Metadata.Name} may scale below 2 replicas.");
            // A replica count in the manifest would reset the autoscaler's choice on every apply.
            Assert.Null(deployment.Spec.Replicas);
        });
    }

    [Theory]
    [MemberData(nameof(RenderedOverlay.AllNames), MemberType = typeof(RenderedOverlay))]
    public void EveryDeploymentHasADisruptionBudgetThatKeepsItServing(string overlay)
    {
        var rendered = RenderedOverlay.Get(overlay);
        var budgets = rendered.All<V1PodDisruptionBudget>().ToList();

        Assert.All(rendered.All<V1Deployment>(), deployment =>
        {
            var budget = Assert.Single(budgets, b => NetworkPolicyEvaluator.Matches(b.Spec.Selector, deployment.Spec.Template.Metadata.Labels));
            Assert.True(budget.Spec.MaxUnavailable?.Value == "1" || budget.Spec.MinAvailable?.Value == "1", $"{deployment.Metadata.Name}: the budget allows more than one pod down of two.");
        });
    }
}
