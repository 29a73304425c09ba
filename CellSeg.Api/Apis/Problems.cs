using Microsoft.AspNetCore.Http.HttpResults;

namespace CellSeg.Api.Apis;

/// <summary>
/// ProblemDetails answers shared by the endpoints. Another user's resource answers exactly like a missing one,
/// so ids cannot be probed.
/// </summary>
internal static class Problems
{
    public static ProblemHttpResult NotFound(string resource, Guid id) =>
        TypedResults.Problem(title: "Not found", detail: $"No {resource} {id}.", statusCode: StatusCodes.Status404NotFound);

    public static ProblemHttpResult BadRequest(string title, string detail) =>
        TypedResults.Problem(title: title, detail: detail, statusCode: StatusCodes.Status400BadRequest);
}
