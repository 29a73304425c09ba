using System.Net;
using CellSeg.QueueWorker.Processing;
using Microsoft.Extensions.ServiceDiscovery;

namespace CellSeg.QueueWorker.Tests;

public sealed class InstanceRotationTests
{
    private static readonly ServiceEndpoint[] s_instances =
    [
        ServiceEndpoint.Create(new UriEndPoint(new Uri("http://10.0.0.1:8080"))),
        ServiceEndpoint.Create(new UriEndPoint(new Uri("http://10.0.0.2:8080"))),
        ServiceEndpoint.Create(new UriEndPoint(new Uri("http://10.0.0.3:8080"))),
    ];

    [Fact]
    public void FreshRequestsAreSpreadEvenlyOverTheInstances()
    {
        var rotation = new InstanceRotation();
        var picks = Enumerable.Range(0, 300).Select(_ =>
        {
            using var request = new HttpRequestMessage(HttpMethod.Get, "http://inference/v1/models");
            return rotation.Next(s_instances, request);
        }).ToList();

        Assert.All(s_instances, instance => Assert.Equal(100, picks.Count(p => p == instance)));
    }

    [Fact]
    public void EachAttemptOfARequestGoesToAnInstanceItHasNotTriedWhileOtherRequestsTakeTurns()
    {
        var rotation = new InstanceRotation();
        using var retried = new HttpRequestMessage(HttpMethod.Post, "http://inference/v1/segment");
        var attempts = new List<ServiceEndpoint>();
        for (var attempt = 0; attempt < s_instances.Length; attempt++)
        {
            attempts.Add(rotation.Next(s_instances, retried));
            // Requests of other slots take turns in between, as they do in a worker with several batches in flight.
            for (var other = 0; other < attempt + 1; other++)
            {
                using var request = new HttpRequestMessage(HttpMethod.Post, "http://inference/v1/segment");
                rotation.Next(s_instances, request);
            }
        }

        Assert.Equal(s_instances.Length, attempts.Distinct().Count());
    }

    [Fact]
    public void ARequestThatTriedEveryInstanceStartsAnotherRound()
    {
        var rotation = new InstanceRotation();
        using var request = new HttpRequestMessage(HttpMethod.Post, "http://inference/v1/segment");
        var first = Enumerable.Range(0, 3).Select(_ => rotation.Next(s_instances, request)).ToList();
        var second = Enumerable.Range(0, 3).Select(_ => rotation.Next(s_instances, request)).ToList();

        Assert.Equal(3, first.Distinct().Count());
        Assert.Equal(3, second.Distinct().Count());
    }

    [Fact]
    public void InstancesOfEveryEndpointKindAreToldApart()
    {
        ServiceEndpoint[] mixed =
        [
            ServiceEndpoint.Create(new DnsEndPoint("inference-0.inference", 8080)),
            ServiceEndpoint.Create(new IPEndPoint(IPAddress.Loopback, 8080)),
        ];
        var rotation = new InstanceRotation();
        using var request = new HttpRequestMessage(HttpMethod.Get, "http://inference/v1/models");

        Assert.NotEqual(rotation.Next(mixed, request), rotation.Next(mixed, request));
    }
}
