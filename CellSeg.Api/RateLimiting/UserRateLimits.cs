using System.ComponentModel.DataAnnotations;
using System.Globalization;
using System.Security.Claims;
using System.Threading.RateLimiting;
using Microsoft.AspNetCore.RateLimiting;
using Microsoft.Extensions.Options;

namespace CellSeg.Api.RateLimiting;

/// <summary>How many requests of one kind a user may make per window.</summary>
public sealed class UserRateLimit
{
    [Range(1, int.MaxValue)]
    public int PermitLimit { get; set; }

    [Range(typeof(TimeSpan), "00:00:01", "1.00:00:00")]
    public TimeSpan Window { get; set; } = TimeSpan.FromMinutes(1);
}

/// <summary>
/// Per-user limits on the requests that cost the most: uploads (up to 2 GB each) and segmentation requests (up to
/// 10,000 tasks each). The defaults leave room for the load scenarios; lower them per deployment.
/// </summary>
public sealed class RateLimitOptions
{
    public const string SectionName = "RateLimits";

    public UserRateLimit Uploads { get; set; } = new() { PermitLimit = 300 };

    public UserRateLimit Segmentation { get; set; } = new() { PermitLimit = 1200 };
}

/// <summary>
/// The rate-limiting policies, each partitioned by the signed-in user: one user at the limit does not slow another.
/// Limits are kept per Api replica, so a user spread over n replicas may get up to n times the limit.
/// </summary>
public static class UserRateLimits
{
    public const string Uploads = "uploads";
    public const string Segmentation = "segmentation";

    public static void Configure(RateLimiterOptions limiter)
    {
        limiter.AddPolicy(Uploads, context => PerUser(context, Limit(context, Uploads)));
        limiter.AddPolicy(Segmentation, context => PerUser(context, Limit(context, Segmentation)));
        limiter.OnRejected = WriteProblemAsync;
    }

    public static bool IsValid(RateLimitOptions options) =>
        new[] { options.Uploads, options.Segmentation }.All(limit =>
            Validator.TryValidateObject(limit, new ValidationContext(limit), null, validateAllProperties: true));

    private static UserRateLimit Limit(HttpContext context, string policy)
    {
        var options = context.RequestServices.GetRequiredService<IOptions<RateLimitOptions>>().Value;
        return policy == Uploads ? options.Uploads : options.Segmentation;
    }

    private static RateLimitPartition<string> PerUser(HttpContext context, UserRateLimit limit) =>
        RateLimitPartition.GetFixedWindowLimiter(
            // The endpoints require a signed-in user; the address only keys a request that somehow has none.
            context.User.FindFirstValue(ClaimTypes.NameIdentifier) ?? $"address:{context.Connection.RemoteIpAddress}",
            _ => new FixedWindowRateLimiterOptions { PermitLimit = limit.PermitLimit, Window = limit.Window, QueueLimit = 0 });

    private static async ValueTask WriteProblemAsync(OnRejectedContext rejected, CancellationToken cancellationToken)
    {
        var context = rejected.HttpContext;
        var policy = context.GetEndpoint()?.Metadata.GetMetadata<EnableRateLimitingAttribute>()?.PolicyName;
        var detail = policy is null
            ? "Too many requests."
            : $"At most {Limit(context, policy).PermitLimit} {(policy == Uploads ? "upload" : "segmentation")} requests per user every {Limit(context, policy).Window.TotalSeconds:0} s.";
        if (rejected.Lease.TryGetMetadata(MetadataName.RetryAfter, out var retryAfter))
        {
            var seconds = Math.Max(1, (int)Math.Ceiling(retryAfter.TotalSeconds));
            context.Response.Headers.RetryAfter = seconds.ToString(CultureInfo.InvariantCulture);
            detail += $" Retry in {seconds} s.";
        }

        context.Response.StatusCode = StatusCodes.Status429TooManyRequests;
        await context.RequestServices.GetRequiredService<IProblemDetailsService>().WriteAsync(new ProblemDetailsContext
        {
            HttpContext = context,
            ProblemDetails = { Title = "Too many requests", Detail = detail, Status = StatusCodes.Status429TooManyRequests },
        });
    }
}
