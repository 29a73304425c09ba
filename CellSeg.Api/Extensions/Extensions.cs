using CellSeg.Api.Images;
using CellSeg.Api.Segmentation;
using CellSeg.Data;
using CellSeg.Data.Model;
using Microsoft.AspNetCore.DataProtection;

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

        builder.Services.AddDataProtection().SetApplicationName("CellSeg").PersistKeysToDbContext<CellSegDbContext>();
        builder.Services.AddIdentityApiEndpoints<CellSegUser>(identity =>
            {
                identity.User.RequireUniqueEmail = true;
                identity.Password.RequiredLength = 8;
            })
            .AddEntityFrameworkStores<CellSegDbContext>();
        builder.Services.AddAuthorization();

        builder.Services.AddProblemDetails();
        builder.Services.AddOpenApi();
        builder.Services.AddSingleton<ApiTelemetry>();
        builder.Services.AddSingleton(TimeProvider.System);
        builder.Services.AddRedisStreamsSegmentationQueue();
        builder.Services.AddScoped<SegmentationRequests>();
        builder.Services.AddScoped<ImageUploads>();
    }
}
