using System.Net;
using System.Net.Http.Json;
using System.Text.RegularExpressions;
using CellSeg.LoadGen;
using Microsoft.AspNetCore.Http;
using Microsoft.AspNetCore.Http.Metadata;
using Microsoft.AspNetCore.Mvc;
using Microsoft.AspNetCore.Routing;
using Microsoft.Extensions.DependencyInjection;

namespace CellSeg.FunctionalTests;

/// <summary>
/// Nobody reaches another user's resources: every endpoint with an id in its route answers another user's id exactly
/// as it answers an id that does not exist, while the owner's same request is not refused as unknown. The endpoints
/// are read from the route table, so a new one is covered without touching this test.
/// </summary>
public sealed partial class IsolationTests(StoresFixture stores) : IAsyncLifetime
{
    private CellSegStack _stack = null!;

    public async ValueTask InitializeAsync()
    {
        var ct = TestContext.Current.CancellationToken;
        _stack = await CellSegStack.StartAsync(await stores.CreateDatabaseAsync(ct), stores.Redis.ConnectionString, ct);
    }

    [Fact]
    public async Task EveryEndpointWithAnIdAnswersAnotherUsersIdLikeAMissingOne()
    {
        var ct = TestContext.Current.CancellationToken;
        var owner = await _stack.SignInAsync("owner@cellseg.test", ct);
        var intruder = await _stack.SignInAsync("intruder@cellseg.test", ct);
        var project = await owner.CreateProjectAsync("Private", ct);
        var image = Assert.Single((await owner.UploadAsync(project.Id, [("private.png", await File.ReadAllBytesAsync(ProjectsApiTests.Asset("single-spheroid.png"), ct))], ct)).Images);
        var batch = await owner.RequestBatchSegmentationAsync(project.Id, [image.Id], "hrnet", ct);
        var owned = new Dictionary<string, Guid>(StringComparer.Ordinal)
        {
            ["projectId"] = project.Id,
            ["imageId"] = image.Id,
            ["batchId"] = batch.BatchId,
        };

        var endpoints = RoutesWithIds();
        foreach (var expected in new[]
        {
            "GetProject", "RenameProject", "DeleteProject", "ExportProject", "GetImage", "DeleteImage", "DeleteImages",
            "GetImageThumbnail", "GetSegmentationResult", "ReplaceSegmentationResult", "RequestSegmentation",
            "CancelImageSegmentation", "CancelBatchSegmentation",
        })
        {
            Assert.Contains(endpoints, e => e.Name == expected);
        }
        var unknownParameters = endpoints.SelectMany(e => e.IdParameters.Where(p => !owned.ContainsKey(p)).Select(p => $"{e.Method} {e.Pattern}: {p}")).ToList();
        Assert.True(unknownParameters.Count == 0, $"The test does not know how to fill: {string.Join("; ", unknownParameters)}.");

        foreach (var endpoint in endpoints)
        {
            var theirs = endpoint.Url(name => owned[name]);
            var missing = endpoint.Url(_ => Guid.NewGuid());
            using var answer = await SendAsync(intruder, endpoint, theirs, ct);
            using var control = await SendAsync(intruder, endpoint, missing, ct);

            Assert.True(answer.StatusCode == HttpStatusCode.NotFound, $"{endpoint.Method} {theirs} answered {(int)answer.StatusCode} to another user.");
            Assert.Equal(control.StatusCode, answer.StatusCode);
            Assert.Equal("application/problem+json", answer.Content.Headers.ContentType?.MediaType);
            var problem = await answer.Content.ReadFromJsonAsync<ProblemDetails>(ct);
            var controlProblem = await control.Content.ReadFromJsonAsync<ProblemDetails>(ct);
            Assert.Equal(controlProblem!.Title, problem!.Title);
        }

        // And the owner's things are untouched.
        using var projectResponse = await owner.Http.GetAsync($"/api/projects/{project.Id}", ct);
        Assert.Equal(HttpStatusCode.OK, projectResponse.StatusCode);
        Assert.Contains("\"Private\"", await projectResponse.Content.ReadAsStringAsync(ct), StringComparison.Ordinal);
        Assert.Equal(image.Id, (await owner.GetImageAsync(image.Id, ct)).Id);

        // The same requests from the owner are not refused as unknown, so the 404s above came from ownership and
        // not from an endpoint that answers 404 to everyone. Deleting endpoints go last, the project's last of all.
        foreach (var endpoint in endpoints.OrderBy(e => e.Method != "DELETE" ? 0 : e.IdParameters.Contains("projectId") ? 2 : 1))
        {
            var url = endpoint.Url(name => owned[name]);
            using var answer = await SendAsync(owner, endpoint, url, ct);
            if (answer.StatusCode == HttpStatusCode.NotFound)
            {
                var problem = await answer.Content.ReadFromJsonAsync<ProblemDetails>(ct);
                Assert.True(problem?.Title != "Not found", $"{endpoint.Method} {url} answered the owner: {problem?.Detail}");
            }
        }
    }

    private sealed record RouteWithIds(string Name, string Method, string Pattern, IReadOnlyList<string> IdParameters, IReadOnlyList<string> ContentTypes)
    {
        public string Url(Func<string, Guid> id) => Parameter().Replace(Pattern, m => id(m.Groups[1].Value).ToString());
    }

    /// <summary>Every method of every route with a guid or id-named parameter.</summary>
    private List<RouteWithIds> RoutesWithIds()
    {
        var routes = new List<RouteWithIds>();
        foreach (var endpoint in _stack.Api.Services.GetRequiredService<EndpointDataSource>().Endpoints.OfType<RouteEndpoint>())
        {
            var ids = endpoint.RoutePattern.Parameters
                .Where(p => p.ParameterPolicies.Any(policy => policy.Content == "guid") || p.Name.EndsWith("id", StringComparison.OrdinalIgnoreCase))
                .Select(p => p.Name)
                .ToList();
            if (ids.Count == 0)
            {
                continue;
            }

            var name = endpoint.Metadata.GetMetadata<IEndpointNameMetadata>()?.EndpointName ?? endpoint.DisplayName ?? endpoint.RoutePattern.RawText!;
            foreach (var method in endpoint.Metadata.GetMetadata<IHttpMethodMetadata>()?.HttpMethods ?? ["GET"])
            {
                var contentTypes = endpoint.Metadata.GetMetadata<IAcceptsMetadata>()?.ContentTypes ?? [];
                routes.Add(new RouteWithIds(name, method, endpoint.RoutePattern.RawText!, ids, contentTypes));
            }
        }

        return routes;
    }

    /// <summary>A request whose body would be valid for the owner, so only ownership can refuse it.</summary>
    private static Task<HttpResponseMessage> SendAsync(CellSegApiClient client, RouteWithIds endpoint, string url, CancellationToken ct)
    {
        var request = new HttpRequestMessage(new HttpMethod(endpoint.Method), url);
        if (endpoint.ContentTypes.Contains("multipart/form-data"))
        {
            request.Content = new MultipartFormDataContent { { new ByteArrayContent(ProjectsApiTests.Png(16, 16)), "files", "isolation.png" } };
        }
        else if (endpoint.Method is not ("GET" or "DELETE" or "HEAD"))
        {
            request.Content = JsonContent.Create(new
            {
                name = "Taken over",
                imageIds = new[] { Guid.NewGuid() },
                model = "hrnet",
                objects = Array.Empty<object>(),
            });
        }

        return client.Http.SendAsync(request, ct);
    }

    [GeneratedRegex(@"\{(\w+)(:[^}]*)?\}")]
    private static partial Regex Parameter();

    public async ValueTask DisposeAsync() => await _stack.DisposeAsync();
}
