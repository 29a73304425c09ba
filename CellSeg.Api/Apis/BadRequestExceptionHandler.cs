using System.Text.Json;
using Microsoft.AspNetCore.Diagnostics;
using Microsoft.AspNetCore.Http.Metadata;

namespace CellSeg.Api.Apis;

/// <summary>
/// Turns a request the framework could not bind (malformed JSON, a value of the wrong type, a missing body, a query
/// value that is no number, a body over Kestrel's limit) into a ProblemDetails that says what was wrong, in every
/// environment, instead of a bare status code.
/// </summary>
public sealed class BadRequestExceptionHandler(IProblemDetailsService problemDetails) : IExceptionHandler
{
    public async ValueTask<bool> TryHandleAsync(HttpContext httpContext, Exception exception, CancellationToken cancellationToken)
    {
        if (exception is not BadHttpRequestException bad)
        {
            return false;
        }

        var request = httpContext.Request;
        var detail = bad.InnerException switch
        {
            JsonException { Path: { } path } => $"{bad.Message} The JSON at {path} is malformed or not of the expected type.",
            _ when request.ContentLength is 0 or null && !request.Headers.ContainsKey("Transfer-Encoding")
                // The handler runs with the endpoint cleared; the feature keeps the one that failed.
                && httpContext.Features.Get<IExceptionHandlerFeature>()?.Endpoint?.Metadata.GetMetadata<IAcceptsMetadata>() is { } accepts =>
                $"The request needs a body ({string.Join(" or ", accepts.ContentTypes)}).",
            _ => bad.Message,
        };
        httpContext.Response.StatusCode = bad.StatusCode;
        return await problemDetails.TryWriteAsync(new ProblemDetailsContext
        {
            HttpContext = httpContext,
            Exception = exception,
            ProblemDetails =
            {
                Status = bad.StatusCode,
                Title = bad.StatusCode == StatusCodes.Status413PayloadTooLarge ? "Request too large" : "Unreadable request",
                Detail = detail,
            },
        });
    }
}
