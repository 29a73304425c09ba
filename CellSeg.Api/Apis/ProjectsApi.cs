using System.ComponentModel.DataAnnotations;
using System.Security.Claims;
using CellSeg.Api.Segmentation;
using CellSeg.Data;
using CellSeg.Data.Model;
using Microsoft.AspNetCore.Http.HttpResults;
using Microsoft.EntityFrameworkCore;

namespace CellSeg.Api.Apis;

public static class ProjectsApi
{
    public const int MaxNameLength = 200;

    public static IEndpointRouteBuilder MapProjectsApi(this IEndpointRouteBuilder app)
    {
        var api = app.MapGroup("/api/projects").WithTags("Projects").RequireAuthorization();

        api.MapPost("/", CreateProjectAsync).WithName("CreateProject").WithSummary("Creates a project owned by the caller.");
        api.MapGet("/", ListProjectsAsync)
            .WithName("ListProjects")
            .WithSummary("A page of the caller's projects, optionally only those whose name contains a text, sorted by name, createdAt or updatedAt.");
        api.MapGet("/{projectId:guid}", GetProjectAsync).WithName("GetProject").WithSummary("One of the caller's projects.");
        api.MapPatch("/{projectId:guid}", RenameProjectAsync).WithName("RenameProject").WithSummary("Renames one of the caller's projects.");
        api.MapDelete("/{projectId:guid}", DeleteProjectAsync)
            .WithName("DeleteProject")
            .WithSummary("Cancels the project's active tasks, then deletes it with its images, tasks and results.");

        return app;
    }

    public sealed record CreateProjectRequest([property: Required, StringLength(MaxNameLength, MinimumLength = 1)] string Name);

    public sealed record RenameProjectRequest([property: Required, StringLength(MaxNameLength, MinimumLength = 1)] string Name);

    public sealed record ProjectDto(Guid Id, string Name, int ImageCount, DateTimeOffset CreatedAt, DateTimeOffset UpdatedAt);

    public sealed record ProjectPage(IReadOnlyList<ProjectDto> Items, int Page, int PageSize, int Total);

    public static async Task<Results<Created<ProjectDto>, ValidationProblem>> CreateProjectAsync(
        CreateProjectRequest request, ClaimsPrincipal user, CellSegDbContext db, CancellationToken cancellationToken)
    {
        if (ValidName(request.Name) is not { } name)
        {
            return InvalidName();
        }

        var project = new Project(DateTimeOffset.UtcNow) { Name = name, OwnerId = user.Id() };
        db.Projects.Add(project);
        await db.SaveChangesAsync(cancellationToken);
        return TypedResults.Created($"/api/projects/{project.Id}", new ProjectDto(project.Id, project.Name, 0, project.CreatedAt, project.UpdatedAt));
    }

    public static async Task<Results<Ok<ProjectPage>, ProblemHttpResult>> ListProjectsAsync(
        ClaimsPrincipal user,
        CellSegDbContext db,
        CancellationToken cancellationToken,
        string? search = null,
        string? sort = null,
        string? order = null,
        int page = 1,
        int pageSize = 20)
    {
        if (page < 1 || pageSize is < 1 or > 100)
        {
            return Problems.BadRequest("Invalid paging", "page starts at 1 and pageSize is between 1 and 100.");
        }

        var descending = order?.ToLowerInvariant() switch
        {
            null or "asc" => false,
            "desc" => true,
            _ => (bool?)null,
        };
        if (descending is null)
        {
            return Problems.BadRequest("Invalid order", $"'{order}' is not one of: asc, desc.");
        }

        var ownerId = user.Id();
        var query = db.Projects.AsNoTracking().Where(p => p.OwnerId == ownerId);
        if (!string.IsNullOrWhiteSpace(search))
        {
            var pattern = $"%{EscapeLike(search.Trim())}%";
            query = query.Where(p => EF.Functions.ILike(p.Name, pattern, @"\"));
        }

        IOrderedQueryable<Project>? sorted = (sort?.ToLowerInvariant(), descending.Value) switch
        {
            (null or "createdat", false) => query.OrderBy(p => p.CreatedAt),
            (null or "createdat", true) => query.OrderByDescending(p => p.CreatedAt),
            ("updatedat", false) => query.OrderBy(p => p.UpdatedAt),
            ("updatedat", true) => query.OrderByDescending(p => p.UpdatedAt),
            // Case-insensitive whatever the database's collation, as people read names.
            ("name", false) => query.OrderBy(p => p.Name.ToLower()).ThenBy(p => p.Name),
            ("name", true) => query.OrderByDescending(p => p.Name.ToLower()).ThenByDescending(p => p.Name),
            _ => null,
        };
        if (sorted is null)
        {
            return Problems.BadRequest("Invalid sort", $"'{sort}' is not one of: name, createdAt, updatedAt.");
        }

        var total = await query.CountAsync(cancellationToken);
        var items = await sorted.ThenBy(p => p.Id)
            .Skip((page - 1) * pageSize).Take(pageSize)
            .Select(p => new ProjectDto(p.Id, p.Name, p.Images.Count, p.CreatedAt, p.UpdatedAt))
            .ToListAsync(cancellationToken);
        return TypedResults.Ok(new ProjectPage(items, page, pageSize, total));
    }

    public static async Task<Results<Ok<ProjectDto>, ProblemHttpResult>> GetProjectAsync(
        Guid projectId, ClaimsPrincipal user, CellSegDbContext db, CancellationToken cancellationToken)
    {
        var ownerId = user.Id();
        var project = await db.Projects
            .Where(p => p.Id == projectId && p.OwnerId == ownerId)
            .Select(p => new ProjectDto(p.Id, p.Name, p.Images.Count, p.CreatedAt, p.UpdatedAt))
            .SingleOrDefaultAsync(cancellationToken);
        return project is null ? Problems.NotFound("project", projectId) : TypedResults.Ok(project);
    }

    public static async Task<Results<Ok<ProjectDto>, ValidationProblem, ProblemHttpResult>> RenameProjectAsync(
        Guid projectId, RenameProjectRequest request, ClaimsPrincipal user, CellSegDbContext db, TimeProvider time, CancellationToken cancellationToken)
    {
        var ownerId = user.Id();
        var project = await db.Projects.SingleOrDefaultAsync(p => p.Id == projectId && p.OwnerId == ownerId, cancellationToken);
        if (project is null)
        {
            return Problems.NotFound("project", projectId);
        }

        if (ValidName(request.Name) is not { } name)
        {
            return InvalidName();
        }

        project.Name = name;
        project.UpdatedAt = time.GetUtcNow();
        await db.SaveChangesAsync(cancellationToken);
        var imageCount = await db.Images.CountAsync(i => i.ProjectId == projectId, cancellationToken);
        return TypedResults.Ok(new ProjectDto(project.Id, project.Name, imageCount, project.CreatedAt, project.UpdatedAt));
    }

    public static async Task<Results<NoContent, ProblemHttpResult>> DeleteProjectAsync(
        Guid projectId, ClaimsPrincipal user, CellSegDbContext db, SegmentationRequests requests, CancellationToken cancellationToken)
    {
        var ownerId = user.Id();
        if (!await db.OwnsProjectAsync(ownerId, projectId, cancellationToken))
        {
            return Problems.NotFound("project", projectId);
        }

        // Cancelling first tells the workers to drop the project's tasks; the foreign keys then cascade the rest.
        await requests.CancelAsync(ownerId, tasks => tasks.Where(t => t.ProjectId == projectId), cancellationToken);
        await db.Projects.Where(p => p.Id == projectId && p.OwnerId == ownerId).ExecuteDeleteAsync(cancellationToken);
        return TypedResults.NoContent();
    }

    private static string? ValidName(string? name) =>
        name?.Trim() is { Length: > 0 and <= MaxNameLength } trimmed ? trimmed : null;

    private static ValidationProblem InvalidName() =>
        TypedResults.ValidationProblem(new Dictionary<string, string[]>
        {
            ["name"] = [$"A project needs a name of 1 to {MaxNameLength} characters."],
        });

    private static string EscapeLike(string text) =>
        text.Replace(@"\", @"\\", StringComparison.Ordinal).Replace("%", @"\%", StringComparison.Ordinal).Replace("_", @"\_", StringComparison.Ordinal);
}
