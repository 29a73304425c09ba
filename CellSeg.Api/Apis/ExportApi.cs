using System.Security.Claims;
using CellSeg.Api.Export;
using CellSeg.Data;
using Microsoft.AspNetCore.Http.HttpResults;
using Microsoft.EntityFrameworkCore;

namespace CellSeg.Api.Apis;

public static class ExportApi
{
    public static IEndpointRouteBuilder MapExportApi(this IEndpointRouteBuilder app)
    {
        var api = app.MapGroup("/api/projects").WithTags("Export").RequireAuthorization();

        api.MapGet("/{projectId:guid}/export", ExportProjectAsync)
            .WithName("ExportProject")
            .WithSummary("Streams a ZIP of the project's (or ?imageIds=a,b's) polygons as COCO and raw JSON, and their metrics as CSV and JSON (in µm with ?scale=).");

        return app;
    }

    public static async Task<Results<ProjectExport, ProblemHttpResult>> ExportProjectAsync(
        Guid projectId, ClaimsPrincipal user, CellSegDbContext db, CancellationToken cancellationToken, string? imageIds = null, double? scale = null)
    {
        if (scale is { } s && !(s > 0 && double.IsFinite(s)))
        {
            return Problems.BadRequest("Invalid scale", "scale is a positive number of micrometres per pixel.");
        }

        var ownerId = user.Id();
        var project = await db.Projects.AsNoTracking()
            .Where(p => p.Id == projectId && p.OwnerId == ownerId)
            .Select(p => new { p.Id, p.Name })
            .SingleOrDefaultAsync(cancellationToken);
        if (project is null)
        {
            return Problems.NotFound("project", projectId);
        }

        List<Guid>? selected = null;
        if (imageIds is not null)
        {
            selected = [];
            foreach (var part in imageIds.Split(',', StringSplitOptions.RemoveEmptyEntries | StringSplitOptions.TrimEntries))
            {
                if (!Guid.TryParse(part, out var id))
                {
                    return Problems.BadRequest("Invalid image list", $"'{part}' is not an image id; send ?imageIds=id1,id2.");
                }

                selected.Add(id);
            }

            selected = [.. selected.Distinct()];
            if (selected.Count is 0 or > SegmentationApi.MaxImagesPerRequest)
            {
                return Problems.BadRequest("Invalid image list", $"Send between 1 and {SegmentationApi.MaxImagesPerRequest} image ids.");
            }

            var found = await db.Images.AsNoTracking()
                .Where(i => i.ProjectId == projectId && selected.Contains(i.Id))
                .Select(i => i.Id)
                .ToListAsync(cancellationToken);
            var missing = selected.Except(found).ToList();
            if (missing.Count > 0)
            {
                return TypedResults.Problem(
                    title: "Unknown images",
                    detail: $"The project has no image {string.Join(", ", missing)}.",
                    statusCode: StatusCodes.Status400BadRequest);
            }
        }

        return new ProjectExport(project.Id, project.Name, selected, scale, db);
    }
}
