using System.Net;
using System.Text.Json;
using Microsoft.AspNetCore.Http;
using Microsoft.AspNetCore.Http.Metadata;
using Microsoft.AspNetCore.Routing;
using Microsoft.AspNetCore.Routing.Patterns;
using Microsoft.Extensions.DependencyInjection;

namespace CellSeg.FunctionalTests;

/// <summary>
/// The OpenAPI document describes the whole Api: every endpoint under <c>/api</c> from the route table has a name,
/// a summary and tags and appears in <c>/openapi/v1.json</c> under that name, so a new endpoint without them fails here.
/// </summary>
public sealed class OpenApiTests(StoresFixture stores) : IAsyncLifetime
{
    private CellSegStack _stack = null!;

    public async ValueTask InitializeAsync()
    {
        var ct = TestContext.Current.CancellationToken;
        _stack = await CellSegStack.StartAsync(await stores.CreateDatabaseAsync(ct), stores.Redis.ConnectionString, ct);
    }

    private sealed record Operation(string Method, string Path, string? OperationId, string? Summary, IReadOnlyList<string> Tags);

    [Fact]
    public async Task EveryApiEndpointHasANameASummaryAndTagsAndIsInTheOpenApiDocument()
    {
        var ct = TestContext.Current.CancellationToken;
        using var http = _stack.Api.CreateHttpClient();
        using var document = JsonDocument.Parse(await http.GetStringAsync("/openapi/v1.json", ct));
        var operations = document.RootElement.GetProperty("paths").EnumerateObject()
            .SelectMany(path => path.Value.EnumerateObject()
                .Where(o => o.Value.ValueKind == JsonValueKind.Object && o.Value.TryGetProperty("responses", out _))
                .Select(o => new Operation(
                    o.Name.ToUpperInvariant(),
                    path.Name,
                    o.Value.TryGetProperty("operationId", out var id) ? id.GetString() : null,
                    o.Value.TryGetProperty("summary", out var summary) ? summary.GetString() : null,
                    o.Value.TryGetProperty("tags", out var tags) ? [.. tags.EnumerateArray().Select(t => t.GetString()!)] : [])))
            .ToList();

        var endpoints = _stack.Api.Services.GetRequiredService<EndpointDataSource>().Endpoints.OfType<RouteEndpoint>()
            .Where(e => e.RoutePattern.RawText!.StartsWith("/api/", StringComparison.Ordinal))
            .SelectMany(e => (e.Metadata.GetMetadata<IHttpMethodMetadata>()?.HttpMethods ?? ["GET"]).Select(method => (Method: method, Endpoint: e)))
            .ToList();
        Assert.True(endpoints.Count >= 30, $"Only {endpoints.Count} /api endpoints found; the route table was not read.");

        var failures = new List<string>();
        foreach (var (method, endpoint) in endpoints)
        {
            var route = $"{method} {endpoint.RoutePattern.RawText}";
            var name = endpoint.Metadata.GetMetadata<IEndpointNameMetadata>()?.EndpointName;
            var summary = endpoint.Metadata.GetMetadata<IEndpointSummaryMetadata>()?.Summary;
            var tags = endpoint.Metadata.GetOrderedMetadata<ITagsMetadata>().SelectMany(t => t.Tags).ToList();
            if (string.IsNullOrWhiteSpace(name) || string.IsNullOrWhiteSpace(summary) || tags.Count == 0)
            {
                failures.Add($"{route}: name '{name}', summary '{summary}', tags [{string.Join(", ", tags)}]");
                continue;
            }

            var described = operations.SingleOrDefault(o => o.OperationId == name);
            if (described is null || described.Method != method || described.Path != DocumentPath(endpoint.RoutePattern)
                || described.Summary != summary || !tags.Order().SequenceEqual(described.Tags.Order()))
            {
                failures.Add($"{route}: the document has {described?.ToString() ?? "no operation"} for '{name}'");
            }
        }

        Assert.True(failures.Count == 0, string.Join(Environment.NewLine, failures));
        var names = endpoints.Select(e => e.Endpoint.Metadata.GetMetadata<IEndpointNameMetadata>()!.EndpointName).ToList();
        Assert.Equal(names.Count, names.Distinct(StringComparer.Ordinal).Count());
        Assert.Equal(endpoints.Count, operations.Count(o => o.Path.StartsWith("/api/", StringComparison.Ordinal)));
    }

    [Fact]
    public async Task TheBrowsableReferenceIsServedInDevelopment()
    {
        var ct = TestContext.Current.CancellationToken;
        using var http = _stack.Api.CreateHttpClient();

        using var response = await http.GetAsync("/scalar/v1", ct);

        Assert.Equal(HttpStatusCode.OK, response.StatusCode);
        Assert.Equal("text/html", response.Content.Headers.ContentType?.MediaType);
        // The page points at the document the other test checks, and its script is served with it.
        Assert.Contains("\"url\":\"openapi/v1.json\"", await response.Content.ReadAsStringAsync(ct), StringComparison.Ordinal);
        using var script = await http.GetAsync("/scalar/scalar.js", ct);
        Assert.Equal(HttpStatusCode.OK, script.StatusCode);
    }

    /// <summary>The route as OpenAPI writes it: parameters without their constraints.</summary>
    private static string DocumentPath(RoutePattern pattern) =>
        "/" + string.Join("/", pattern.PathSegments.Select(segment => string.Concat(segment.Parts.Select(part => part switch
        {
            RoutePatternLiteralPart literal => literal.Content,
            RoutePatternParameterPart parameter => $"{{{parameter.Name}}}",
            _ => throw new InvalidOperationException($"Unexpected route part {part} in {pattern.RawText}."),
        }))));

    public async ValueTask DisposeAsync() => await _stack.DisposeAsync();
}
