using CellSeg.Api.Apis;
using CellSeg.Api.Images;
using CellSeg.Api.RateLimiting;
using CellSeg.Api.Realtime;
using CellSeg.Api.Segmentation;
using CellSeg.Data;
using CellSeg.Data.Model;
using Microsoft.AspNetCore.Authentication.BearerToken;
using Microsoft.AspNetCore.DataProtection;
using Microsoft.AspNetCore.Identity;

namespace CellSeg.Api.Extensions;

public static class Extensions
{
    public static void AddApplicationServices(this IHostApplicationBuilder builder)
    {
        builder.AddNpgsqlDbContext<CellSegDbContext>("cellsegdb");
        builder.AddRedisClient("redis");

        // The Api is the one migration runner; replicas serialise on EF Core's migration lock.
        builder.Services.AddHostedService<DatabaseMigrationService>();

        builder.Services.AddOptions<UploadOptions>().BindConfiguration(UploadOptions.SectionName).ValidateDataAnnotations().ValidateOnStart();
        builder.Services.AddOptions<SegmentationOptions>().BindConfiguration(SegmentationOptions.SectionName).ValidateDataAnnotations().ValidateOnStart();
        builder.Services.AddOptions<RateLimitOptions>().BindConfiguration(RateLimitOptions.SectionName)
            .Validate(UserRateLimits.IsValid, "Each rate limit needs a PermitLimit of at least 1 and a Window between 1 s and 1 day.")
            .ValidateOnStart();

        builder.Services.AddDataProtection().SetApplicationName("CellSeg").PersistKeysToDbContext<CellSegDbContext>();
        builder.Services.AddIdentityApiEndpoints<CellSegUser>(identity =>
            {
                identity.User.RequireUniqueEmail = true;
                identity.Password.RequiredLength = 8;
            })
            .AddEntityFrameworkStores<CellSegDbContext>();
        builder.Services.Configure<BearerTokenOptions>(IdentityConstants.BearerScheme, bearer => bearer.Events.OnMessageReceived = AcceptHubTokenFromQuery);
        builder.Services.AddAuthorization();
        builder.Services.AddRateLimiter(UserRateLimits.Configure);

        builder.Services.AddProblemDetails();
        builder.Services.AddExceptionHandler<BadRequestExceptionHandler>();
        // Binding failures throw in every environment (not only Development), so the handler above can explain them.
        builder.Services.Configure<RouteHandlerOptions>(routes => routes.ThrowOnBadRequest = true);
        builder.Services.AddOpenApi();
        builder.Services.AddSingleton<ApiTelemetry>();
        builder.Services.AddSingleton(TimeProvider.System);
        builder.Services.AddRedisStreamsSegmentationQueue();
        builder.Services.AddScoped<SegmentationRequests>();
        builder.Services.AddSingleton<DispatchMarks>();
        builder.Services.AddHostedService(sp => sp.GetRequiredService<DispatchMarks>());
        builder.Services.AddScoped<ImageUploads>();

        builder.Services.AddSignalR();
        builder.Services.AddSingleton<SegmentationHubConnections>();
        builder.Services.AddHostedService<TaskEventRelay>();
    }

    /// <summary>
    /// Browsers cannot set headers on a WebSocket (or EventSource) request, so SignalR clients send the bearer token
    /// as <c>access_token</c> in the query string; it is read for the hub only, as URLs end up in logs.
    /// </summary>
    private static Task AcceptHubTokenFromQuery(MessageReceivedContext context)
    {
        if (context.Request.Path.StartsWithSegments(SegmentationHub.Path)
            && context.Request.Query["access_token"] is [{ Length: > 0 } token])
        {
            context.Token = token;
        }

        return Task.CompletedTask;
    }
}
