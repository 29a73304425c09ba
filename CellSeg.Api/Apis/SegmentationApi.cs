using System.Security.Claims;
using CellSeg.Api.RateLimiting;
using CellSeg.Api.Segmentation;
using CellSeg.Data;
using CellSeg.Data.Model;
using Microsoft.AspNetCore.Http.HttpResults;
using Microsoft.EntityFrameworkCore;
using Microsoft.Extensions.Options;

namespace CellSeg.Api.Apis;

public static class SegmentationApi
{
    public const int MaxImagesPerRequest = 10_000;

    public static IEndpointRouteBuilder MapSegmentationApi(this IEndpointRouteBuilder app)
    {
        var api = app.MapGroup("/api").WithTags("Segmentation").RequireAuthorization();

        api.MapPost("/images/{imageId:guid}/segmentation", RequestImageAsync)
            .WithName("RequestSegmentation")
            .WithSummary("Queues one image unless it is already queued or processing (or segmented, unless forced).")
            .RequireRateLimiting(UserRateLimits.Segmentation);
        api.MapPost("/projects/{projectId:guid}/segmentation", RequestBatchAsync)
            .WithName("RequestBatchSegmentation")
            .WithSummary("Queues up to 10,000 images of a project as one batch.")
            .RequireRateLimiting(UserRateLimits.Segmentation);
        api.MapPost("/images/{imageId:guid}/segmentation/cancel", CancelImageAsync)
            .WithName("CancelImageSegmentation")
            .WithSummary("Cancels the image's queued or running task.");
        api.MapPost("/segmentation/batches/{batchId:guid}/cancel", CancelBatchAsync)
            .WithName("CancelBatchSegmentation")
            .WithSummary("Cancels every queued or running task of a batch.");
        api.MapPost("/segmentation/cancel", CancelAllAsync)
            .WithName("CancelAllSegmentation")
            .WithSummary("Cancels every queued or running task of the caller.");
        api.MapGet("/segmentation/stats", GetStatisticsAsync)
            .WithName("GetQueueStatistics")
            .WithSummary("The caller's tasks by project and state, the caller's tasks running now, and the whole queue's depth.");

        return app;
    }

    public sealed record SegmentationRequest(string? Model, float? Threshold, bool? DetectHoles, int? Priority, bool? Force);

    public sealed record BatchSegmentationRequest(IReadOnlyList<Guid>? ImageIds, string? Model, float? Threshold, bool? DetectHoles, int? Priority, bool? Force);

    public sealed record TaskDto(Guid Id, Guid ImageId, Guid? BatchId, string Model, float Threshold, bool DetectHoles, int Priority, string Status, DateTimeOffset CreatedAt);

    public sealed record BatchDto(Guid BatchId, IReadOnlyList<TaskDto> Queued, IReadOnlyList<TaskDto> AlreadyActive, IReadOnlyList<Guid> AlreadySegmented, IReadOnlyList<Guid> NotFound);

    public sealed record CancelledDto(int Cancelled, IReadOnlyList<Guid> TaskIds);

    public sealed record TaskCounts(int Queued, int Processing, int Completed, int Failed, int Cancelled);

    public sealed record ProjectCounts(Guid ProjectId, TaskCounts Tasks);

    public sealed record RunningTask(Guid TaskId, Guid ImageId, Guid ProjectId, string Model, DateTimeOffset? Since);

    public sealed record QueueStatistics(TaskCounts Mine, IReadOnlyList<ProjectCounts> Projects, IReadOnlyList<RunningTask> Running, int QueuedOverall, int ProcessingOverall);

    public static async Task<Results<Accepted<TaskDto>, ValidationProblem, ProblemHttpResult>> RequestImageAsync(
        Guid imageId, SegmentationRequest? request, ClaimsPrincipal user, CellSegDbContext db, SegmentationRequests requests,
        IOptions<SegmentationOptions> options, CancellationToken cancellationToken)
    {
        using var activity = ApiTelemetry.Source.StartActivity("segmentation.request");
        activity?.SetTag("cellseg.image_id", imageId);
        request ??= new SegmentationRequest(null, null, null, null, null);
        if (Validate(request.Model, request.Threshold, request.Priority, options.Value) is { Count: > 0 } errors)
        {
            return InvalidParameters(errors);
        }

        var parameters = WithDefaults(request.Model, request.Threshold, request.DetectHoles, request.Priority, request.Force, options.Value);

        var image = await ImagesApi.OwnedImages(db, user).AsNoTracking().SingleOrDefaultAsync(i => i.Id == imageId, cancellationToken);
        if (image is null)
        {
            return Problems.NotFound("image", imageId);
        }

        var outcome = await requests.QueueAsync(user.Id(), [image], parameters, batchId: null, cancellationToken);
        if (outcome.AlreadySegmented.Count > 0)
        {
            return TypedResults.Problem(
                title: "Already segmented",
                detail: $"Image {imageId} is segmented; ask with force to segment it again.",
                statusCode: StatusCodes.Status409Conflict);
        }

        var task = outcome.Queued.Concat(outcome.AlreadyActive).Single();
        activity?.SetTag("cellseg.task_id", task.Id);
        return TypedResults.Accepted($"/api/images/{imageId}", ToDto(task));
    }

    public static async Task<Results<Accepted<BatchDto>, ValidationProblem, ProblemHttpResult>> RequestBatchAsync(
        Guid projectId, BatchSegmentationRequest request, ClaimsPrincipal user, CellSegDbContext db, SegmentationRequests requests,
        IOptions<SegmentationOptions> options, CancellationToken cancellationToken)
    {
        var ownerId = user.Id();
        if (request.ImageIds is not { Count: > 0 and <= MaxImagesPerRequest } ids)
        {
            return Problems.BadRequest("Invalid image list", $"Send between 1 and {MaxImagesPerRequest} image ids.");
        }

        if (Validate(request.Model, request.Threshold, request.Priority, options.Value) is { Count: > 0 } errors)
        {
            return InvalidParameters(errors);
        }

        var parameters = WithDefaults(request.Model, request.Threshold, request.DetectHoles, request.Priority, request.Force, options.Value);

        if (!await db.OwnsProjectAsync(ownerId, projectId, cancellationToken))
        {
            return Problems.NotFound("project", projectId);
        }

        var distinct = ids.Distinct().ToList();
        var images = await db.Images.AsNoTracking()
            .Where(i => i.ProjectId == projectId && distinct.Contains(i.Id))
            .ToListAsync(cancellationToken);
        var batchId = Guid.CreateVersion7();
        var outcome = await requests.QueueAsync(ownerId, images, parameters, batchId, cancellationToken);
        var found = images.Select(i => i.Id).ToHashSet();
        return TypedResults.Accepted(
            $"/api/projects/{projectId}/images",
            new BatchDto(
                batchId,
                [.. outcome.Queued.Select(ToDto)],
                [.. outcome.AlreadyActive.Select(ToDto)],
                outcome.AlreadySegmented,
                [.. distinct.Where(id => !found.Contains(id))]));
    }

    public static async Task<Results<Ok<CancelledDto>, ProblemHttpResult>> CancelImageAsync(
        Guid imageId, ClaimsPrincipal user, CellSegDbContext db, SegmentationRequests requests, CancellationToken cancellationToken)
    {
        if (!await ImagesApi.OwnedImages(db, user).AnyAsync(i => i.Id == imageId, cancellationToken))
        {
            return Problems.NotFound("image", imageId);
        }

        return TypedResults.Ok(ToDto(await requests.CancelAsync(user.Id(), tasks => tasks.Where(t => t.ImageId == imageId), cancellationToken)));
    }

    public static async Task<Results<Ok<CancelledDto>, ProblemHttpResult>> CancelBatchAsync(
        Guid batchId, ClaimsPrincipal user, CellSegDbContext db, SegmentationRequests requests, CancellationToken cancellationToken)
    {
        var ownerId = user.Id();
        if (!await db.SegmentationTasks.AnyAsync(t => t.BatchId == batchId && t.OwnerId == ownerId, cancellationToken))
        {
            return Problems.NotFound("batch", batchId);
        }

        return TypedResults.Ok(ToDto(await requests.CancelAsync(ownerId, tasks => tasks.Where(t => t.BatchId == batchId), cancellationToken)));
    }

    public static async Task<Ok<CancelledDto>> CancelAllAsync(ClaimsPrincipal user, SegmentationRequests requests, CancellationToken cancellationToken) =>
        TypedResults.Ok(ToDto(await requests.CancelAsync(user.Id(), tasks => tasks, cancellationToken)));

    public static async Task<Ok<QueueStatistics>> GetStatisticsAsync(ClaimsPrincipal user, CellSegDbContext db, CancellationToken cancellationToken) =>
        TypedResults.Ok(await ReadStatisticsAsync(db, user.Id(), cancellationToken));

    /// <summary>The statistics of one user, as the stats endpoint and the real-time channel send them.</summary>
    internal static async Task<QueueStatistics> ReadStatisticsAsync(CellSegDbContext db, Guid ownerId, CancellationToken cancellationToken)
    {
        var rows = await db.SegmentationTasks.AsNoTracking()
            .Where(t => t.OwnerId == ownerId)
            .GroupBy(t => new { t.ProjectId, t.Status })
            .Select(g => new { g.Key.ProjectId, g.Key.Status, Count = g.Count() })
            .ToListAsync(cancellationToken);
        var running = await db.SegmentationTasks.AsNoTracking()
            .Where(t => t.OwnerId == ownerId && t.Status == SegmentationTaskStatus.Processing)
            .OrderBy(t => t.StartedAt)
            .Take(100)
            .Select(t => new RunningTask(t.Id, t.ImageId, t.ProjectId, t.Model, t.StartedAt))
            .ToListAsync(cancellationToken);
        var overall = await db.SegmentationTasks.AsNoTracking()
            .Where(t => t.Status == SegmentationTaskStatus.Queued || t.Status == SegmentationTaskStatus.Processing)
            .GroupBy(t => t.Status)
            .Select(g => new { Status = g.Key, Count = g.Count() })
            .ToListAsync(cancellationToken);

        TaskCounts Counts(IEnumerable<(SegmentationTaskStatus Status, int Count)> counts)
        {
            var byStatus = counts.GroupBy(c => c.Status).ToDictionary(g => g.Key, g => g.Sum(c => c.Count));
            return new TaskCounts(
                byStatus.GetValueOrDefault(SegmentationTaskStatus.Queued),
                byStatus.GetValueOrDefault(SegmentationTaskStatus.Processing),
                byStatus.GetValueOrDefault(SegmentationTaskStatus.Completed),
                byStatus.GetValueOrDefault(SegmentationTaskStatus.Failed),
                byStatus.GetValueOrDefault(SegmentationTaskStatus.Cancelled));
        }

        return new QueueStatistics(
            Counts(rows.Select(r => (r.Status, r.Count))),
            [.. rows.GroupBy(r => r.ProjectId).Select(g => new ProjectCounts(g.Key, Counts(g.Select(r => (r.Status, r.Count)))))],
            running,
            overall.Where(o => o.Status == SegmentationTaskStatus.Queued).Sum(o => o.Count),
            overall.Where(o => o.Status == SegmentationTaskStatus.Processing).Sum(o => o.Count));
    }

    /// <summary>The reasons each given parameter is invalid, keyed by its name; empty when they are all valid.</summary>
    private static Dictionary<string, string[]> Validate(string? model, float? threshold, int? priority, SegmentationOptions options)
    {
        var errors = new Dictionary<string, string[]>();
        if (model is not null && !options.Models.Contains(model, StringComparer.Ordinal))
        {
            errors["model"] = [$"'{model}' is not one of {string.Join(", ", options.Models)}."];
        }

        if (threshold is { } t && t is not (>= 0.1f and <= 0.9f))
        {
            errors["threshold"] = [$"threshold is between 0.1 and 0.9, not {t}."];
        }

        if (priority is { } p && p is not (>= 0 and <= 10))
        {
            errors["priority"] = [$"priority is between 0 and 10, not {p}."];
        }

        return errors;
    }

    private static SegmentationParameters WithDefaults(string? model, float? threshold, bool? detectHoles, int? priority, bool? force, SegmentationOptions options) =>
        new(model ?? options.DefaultModel, threshold ?? 0.5f, detectHoles ?? true, priority ?? 0, force ?? false);

    private static ValidationProblem InvalidParameters(Dictionary<string, string[]> errors) =>
        TypedResults.ValidationProblem(errors, title: "Invalid segmentation parameters");

    private static TaskDto ToDto(SegmentationTask task) => new(
        task.Id, task.ImageId, task.BatchId, task.Model, task.Threshold, task.DetectHoles, task.Priority,
        task.Status.ToString().ToLowerInvariant(), task.CreatedAt);

    private static CancelledDto ToDto(IReadOnlyList<SegmentationTask> cancelled) => new(cancelled.Count, [.. cancelled.Select(t => t.Id)]);
}
