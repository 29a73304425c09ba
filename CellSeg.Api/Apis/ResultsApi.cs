using System.Security.Claims;
using CellSeg.Api.Results;
using CellSeg.Data;
using CellSeg.Imaging.Geometry;
using CellSeg.Imaging.Metrics;
using Microsoft.AspNetCore.Http.HttpResults;
using Microsoft.EntityFrameworkCore;

namespace CellSeg.Api.Apis;

public static class ResultsApi
{
    public static IEndpointRouteBuilder MapResultsApi(this IEndpointRouteBuilder app)
    {
        var api = app.MapGroup("/api/images").WithTags("Results").RequireAuthorization();

        api.MapGet("/{imageId:guid}/result", GetResultAsync)
            .WithName("GetSegmentationResult")
            .WithSummary("The polygons of the image's latest segmentation with per-object metrics, in µm with ?scale= (µm per pixel), else in pixels.");
        api.MapPut("/{imageId:guid}/result", ReplaceResultAsync)
            .WithName("ReplaceSegmentationResult")
            .WithSummary("Replaces the polygons of the image's latest segmentation with edited ones and recomputes their metrics.");

        return app;
    }

    public sealed record ResultDto(
        Guid ImageId, Guid TaskId, string Model, string Device, int Width, int Height, int ObjectCount, double? Scale,
        IReadOnlyList<ResultObject> Objects, DateTimeOffset CreatedAt);

    /// <summary>An edited object: an external polygon, or an internal one (a hole) whose parent is an external object.</summary>
    public sealed record EditedObject(int Id, string? Kind, int? ParentId, IReadOnlyList<PolygonPoint>? Points, double? Confidence);

    public sealed record ReplaceResultRequest(IReadOnlyList<EditedObject>? Objects);

    public static async Task<Results<Ok<ResultDto>, ProblemHttpResult>> GetResultAsync(
        Guid imageId, ClaimsPrincipal user, CellSegDbContext db, CancellationToken cancellationToken, double? scale = null)
    {
        if (scale is { } s && !(s > 0 && double.IsFinite(s)))
        {
            return Problems.BadRequest("Invalid scale", "scale is a positive number of micrometres per pixel.");
        }

        if (!await ImagesApi.OwnedImages(db, user).AnyAsync(i => i.Id == imageId, cancellationToken))
        {
            return Problems.NotFound("image", imageId);
        }

        var result = await db.SegmentationResults.AsNoTracking()
            .Where(r => r.ImageId == imageId)
            .OrderByDescending(r => r.CreatedAt)
            .FirstOrDefaultAsync(cancellationToken);
        if (result is null)
        {
            return NoResult(imageId);
        }

        var objects = ResultObjects.Measure(ResultObjects.Parse(result.Objects), scale);
        return TypedResults.Ok(new ResultDto(
            result.ImageId, result.TaskId, result.Model, result.Device, result.Width, result.Height, result.ObjectCount, scale,
            objects, result.CreatedAt));
    }

    public static async Task<Results<Ok<ResultDto>, ValidationProblem, ProblemHttpResult>> ReplaceResultAsync(
        Guid imageId, ReplaceResultRequest request, ClaimsPrincipal user, CellSegDbContext db, CancellationToken cancellationToken)
    {
        var image = await ImagesApi.OwnedImages(db, user).AsNoTracking()
            .Select(i => new { i.Id, i.Width, i.Height })
            .SingleOrDefaultAsync(i => i.Id == imageId, cancellationToken);
        if (image is null)
        {
            return Problems.NotFound("image", imageId);
        }

        var result = await db.SegmentationResults
            .Where(r => r.ImageId == imageId)
            .OrderByDescending(r => r.CreatedAt)
            .FirstOrDefaultAsync(cancellationToken);
        if (result is null)
        {
            return NoResult(imageId);
        }

        if (Validate(request.Objects, image.Width, image.Height) is { Count: > 0 } errors)
        {
            return TypedResults.ValidationProblem(errors, title: "Invalid polygons", detail: "Nothing was stored; every polygon must be valid.");
        }

        var edited = request.Objects!;
        var parents = edited.Where(o => o.Kind == ResultObject.External).ToDictionary(o => o.Id);
        var objects = ResultObjects.Measure(
            [
                .. edited.Select(o => new ResultObject(
                    o.Id,
                    o.Kind!,
                    o.ParentId,
                    o.Points!,
                    // Drawn by hand: as certain as a person; a hole carries its parent's confidence as Inference writes it.
                    o.Kind == ResultObject.External ? o.Confidence ?? 1 : parents[o.ParentId!.Value].Confidence ?? 1,
                    null)),
            ],
            scale: null);

        result.Objects = ResultObjects.Serialize(objects);
        result.ObjectCount = objects.Count(o => o.IsExternal);
        await db.SaveChangesAsync(cancellationToken);
        return TypedResults.Ok(new ResultDto(
            result.ImageId, result.TaskId, result.Model, result.Device, result.Width, result.Height, result.ObjectCount, null,
            objects, result.CreatedAt));
    }

    /// <summary>Every reason the edited objects cannot be stored, keyed by the object they concern.</summary>
    private static Dictionary<string, string[]> Validate(IReadOnlyList<EditedObject>? objects, int width, int height)
    {
        var errors = new Dictionary<string, string[]>();
        if (objects is null)
        {
            errors["objects"] = ["Send the objects of the image (an empty list removes them all)."];
            return errors;
        }

        var kinds = new Dictionary<int, string?>();
        foreach (var o in objects)
        {
            kinds.TryAdd(o.Id, o.Kind);
        }

        var seen = new HashSet<int>();

        for (var i = 0; i < objects.Count; i++)
        {
            var o = objects[i];
            var reasons = new List<string>();
            if (o.Id < 1)
            {
                reasons.Add($"Object {o.Id}: ids are positive integers.");
            }

            if (!seen.Add(o.Id))
            {
                reasons.Add($"Object {o.Id}: another object has the same id.");
            }

            switch (o.Kind)
            {
                case ResultObject.External when o.ParentId is not null:
                    reasons.Add($"Object {o.Id}: an external polygon has no parent.");
                    break;
                case ResultObject.Internal when o.ParentId is not { } parent || kinds.GetValueOrDefault(parent) != ResultObject.External:
                    reasons.Add($"Object {o.Id}: a hole needs the id of an external object as parentId.");
                    break;
                case ResultObject.External or ResultObject.Internal:
                    break;
                default:
                    reasons.Add($"Object {o.Id}: kind is \"external\" or \"internal\", not \"{o.Kind}\".");
                    break;
            }

            if (o.Confidence is { } confidence && !(confidence is >= 0 and <= 1))
            {
                reasons.Add($"Object {o.Id}: confidence is between 0 and 1.");
            }

            reasons.AddRange(PolygonValidator.Validate(o.Points, width, height).Issues.Select(issue => $"Object {o.Id}: {issue.Reason}"));
            if (reasons.Count > 0)
            {
                errors[$"objects[{i}]"] = [.. reasons];
            }
        }

        if (errors.Count == 0)
        {
            // Valid rings can still leave no area when holes cover their parent: measure to find out.
            foreach (var (parent, index) in objects.Select((o, index) => (o, index)).Where(p => p.o.Kind == ResultObject.External))
            {
                try
                {
                    ObjectMetrics.FromPolygon(parent.Points!, [.. objects.Where(o => o.ParentId == parent.Id).Select(o => o.Points!)]);
                }
                catch (ArgumentException)
                {
                    errors[$"objects[{index}]"] = [$"Object {parent.Id}: its holes cover the whole polygon, leaving no area."];
                }
            }
        }

        return errors;
    }

    private static ProblemHttpResult NoResult(Guid imageId) =>
        TypedResults.Problem(title: "No result yet", detail: $"Image {imageId} has not been segmented.", statusCode: StatusCodes.Status404NotFound);
}
