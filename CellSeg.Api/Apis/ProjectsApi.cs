using System.ComponentModel.DataAnnotations;
using System.Security.Claims;
using CellSeg.Data;
using CellSeg.Data.Model;
using Microsoft.AspNetCore.Http.HttpResults;
using Microsoft.EntityFrameworkCore;

namespace CellSeg.Api.Apis;

public static class ProjectsApi
{
    public static IEndpointRouteBuilder MapProjectsApi(this IEndpointRouteBuilder app)
    {
        var api = app.MapGroup("/api/projects").WithTags("Projects").RequireAuthorization();

        api.MapPost("/", CreateProjectAsync).WithName("CreateProject").WithSummary("Creates a project owned by the caller.");
        api.MapGet("/{projectId:guid}", GetProjectAsync).WithName("GetProject").WithSummary("One of the caller's projects.");

        return app;
    }

    public sealed record CreateProjectRequest([property: Required, StringLength(200, MinimumLength = 1)] string Name);

    public sealed record ProjectDto(Guid Id, string Name, int ImageCount, DateTimeOffset CreatedAt, DateTimeOffset UpdatedAt);

    public static async Task<Results<Created<ProjectDto>, ValidationProblem>> CreateProjectAsync(
        CreateProjectRequest request, ClaimsPrincipal user, CellSegDbContext db, CancellationToken cancellationToken)
    {
        var name = request.Name?.Trim();
        if (string.IsNullOrEmpty(name) || name.Length > 200)
        {
            return TypedResults.ValidationProblem(new Dictionary<string, string[]>
            {
                ["name"] = ["A project needs a name of 1 to 200 characters."],
            });
        }

        var project = new Project { Name = name, OwnerId = user.Id() };
        db.Projects.Add(project);
        await db.SaveChangesAsync(cancellationToken);
        return TypedResults.Created($"/api/projects/{project.Id}", new ProjectDto(project.Id, project.Name, 0, project.CreatedAt, project.UpdatedAt));
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
}
