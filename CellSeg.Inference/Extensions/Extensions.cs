using CellSeg.Inference.Batching;
using CellSeg.Inference.Models;
using CellSeg.Inference.Segmentation;

namespace CellSeg.Inference.Extensions;

public static class Extensions
{
    public static void AddApplicationServices(this IHostApplicationBuilder builder)
    {
        builder.Services.AddOptions<InferenceOptions>()
            .BindConfiguration(InferenceOptions.SectionName)
            .ValidateDataAnnotations()
            .ValidateOnStart();

        builder.Services.AddOptions<BatchingOptions>()
            .BindConfiguration(BatchingOptions.SectionName)
            .ValidateDataAnnotations()
            .ValidateOnStart();

        builder.Services.AddProblemDetails(problems => problems.CustomizeProblemDetails = context =>
        {
            if (context.Exception is BadHttpRequestException bad)
            {
                context.ProblemDetails.Detail = bad.Message;
            }
        });
        // Query values that do not parse throw in every environment, so the exception handler can explain them.
        builder.Services.Configure<Microsoft.AspNetCore.Routing.RouteHandlerOptions>(routes => routes.ThrowOnBadRequest = true);
        // Kestrel's default body limit (30,000,000 bytes) must not cut off an image the service accepts.
        builder.Services.AddOptions<Microsoft.AspNetCore.Server.Kestrel.Core.KestrelServerOptions>()
            .Configure<Microsoft.Extensions.Options.IOptions<InferenceOptions>>((kestrel, inference) =>
                kestrel.Limits.MaxRequestBodySize = inference.Value.MaxImageBytes + (1024 * 1024));
        builder.Services.AddSingleton(TimeProvider.System);
        // Objects are written with their kind as text ("external", "internal") for every client.
        builder.Services.ConfigureHttpJsonOptions(json =>
        {
            json.SerializerOptions.Converters.Add(new System.Text.Json.Serialization.JsonStringEnumConverter(System.Text.Json.JsonNamingPolicy.CamelCase));
            json.SerializerOptions.Converters.Add(new PolygonPointJsonConverter());
        });
        builder.Services.AddSingleton<InferenceTelemetry>();
        builder.Services.AddSingleton<ModelRegistry>();
        builder.Services.AddHostedService<ModelLoader>();
        builder.Services.AddSingleton<SegmentationPipeline>();
        builder.Services.AddHealthChecks().AddCheck<ModelsHealthCheck>("models");
    }
}
