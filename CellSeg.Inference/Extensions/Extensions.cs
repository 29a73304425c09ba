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

        builder.Services.AddProblemDetails();
        builder.Services.AddSingleton(TimeProvider.System);
        // Objects are written with their kind as text ("external", "internal") for every client.
        builder.Services.ConfigureHttpJsonOptions(json =>
            json.SerializerOptions.Converters.Add(new System.Text.Json.Serialization.JsonStringEnumConverter(System.Text.Json.JsonNamingPolicy.CamelCase)));
        builder.Services.AddSingleton<InferenceTelemetry>();
        builder.Services.AddSingleton<ModelRegistry>();
        builder.Services.AddHostedService<ModelLoader>();
        builder.Services.AddSingleton<SegmentationPipeline>();
        builder.Services.AddHealthChecks().AddCheck<ModelsHealthCheck>("models");
    }
}
