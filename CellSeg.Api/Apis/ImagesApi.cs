using System.Security.Claims;
using CellSeg.Api.Images;
using CellSeg.Api.RateLimiting;
using CellSeg.Api.Segmentation;
using CellSeg.Data;
using CellSeg.Data.Model;
using CellSeg.Imaging.Decoding;
using Microsoft.AspNetCore.Http.Features;
using Microsoft.AspNetCore.Http.HttpResults;
using Microsoft.EntityFrameworkCore;
using Microsoft.Extensions.Options;

namespace CellSeg.Api.Apis;

public static class ImagesApi
{
    public static IEndpointRouteBuilder MapImagesApi(this IEndpointRouteBuilder app)
    {
        var api = app.MapGroup("/api").WithTags("Images").RequireAuthorization();

        api.MapPost("/projects/{projectId:guid}/images", UploadImagesAsync)
            .WithName("UploadImages")
            .WithSummary("Stores the PNG, JPEG, BMP and TIFF files of a multipart form; refuses the others with a reason each.")
            .Accepts<IFormFileCollection>(ImageUploads.MultipartFormData)
            .RequireRateLimiting(UserRateLimits.Uploads)
            .DisableAntiforgery();
        api.MapGet("/projects/{projectId:guid}/images", ListImagesAsync)
            .WithName("ListImages")
            .WithSummary("A page of a project's images, optionally only those with one status.");
        api.MapGet("/images/{imageId:guid}", GetImageAsync)
            .WithName("GetImage")
            .WithSummary("An image's size and segmentation status.");
        api.MapDelete("/images/{imageId:guid}", DeleteImageAsync)
            .WithName("DeleteImage")
            .WithSummary("Cancels the image's active task, then deletes it with its tasks and results.");
        api.MapPost("/projects/{projectId:guid}/images/delete", DeleteImagesAsync)
            .WithName("DeleteImages")
            .WithSummary("Cancels the active tasks of up to 10,000 images of a project, then deletes them with their tasks and results.");
        api.MapGet("/images/{imageId:guid}/thumbnail", GetThumbnailAsync)
            .WithName("GetImageThumbnail")
            .WithSummary("A PNG of the image whose longer side is ?size= pixels (default 256, at most 512), keeping its aspect ratio.");

        return app;
    }

    public sealed record ImageDto(
        Guid Id, Guid ProjectId, string FileName, string Format, int Width, int Height, long SizeBytes,
        string Status, string? Error, DateTimeOffset CreatedAt, DateTimeOffset UpdatedAt);

    public sealed record ImagePage(IReadOnlyList<ImageDto> Items, int Page, int PageSize, int Total);

    public sealed record UploadResponse(IReadOnlyList<ImageDto> Images, IReadOnlyList<RejectedFile> Rejected);

    public sealed record DeleteImagesRequest(IReadOnlyList<Guid>? ImageIds);

    public sealed record DeletedImages(IReadOnlyList<Guid> Deleted, IReadOnlyList<Guid> NotFound);

    public static async Task<Results<Created<UploadResponse>, ProblemHttpResult>> UploadImagesAsync(
        Guid projectId, HttpRequest request, ClaimsPrincipal user, CellSegDbContext db, ImageUploads uploads, CancellationToken cancellationToken)
    {
        if (!await db.OwnsProjectAsync(user.Id(), projectId, cancellationToken))
        {
            return Problems.NotFound("project", projectId);
        }

        if (ImageUploads.Boundary(request.ContentType) is not { } boundary)
        {
            return Problems.BadRequest("Not a multipart form", "Upload images as multipart/form-data files.");
        }

        if (request.HttpContext.Features.Get<IHttpMaxRequestBodySizeFeature>() is { IsReadOnly: false } bodySize)
        {
            bodySize.MaxRequestBodySize = uploads.MaxRequestBodyBytes;
        }

        var outcome = await uploads.ReceiveAsync(projectId, boundary, request.Body, cancellationToken);
        if (outcome.Stored.Count == 0)
        {
            return outcome.Rejected.Count == 0
                ? Problems.BadRequest("No files", "The form has no files.")
                : TypedResults.Problem(
                    title: "No image accepted",
                    detail: string.Join(" ", outcome.Rejected.Select(r => $"{r.FileName}: {r.Detail}")),
                    statusCode: StatusCodes.Status400BadRequest,
                    extensions: new Dictionary<string, object?> { ["rejected"] = outcome.Rejected });
        }

        return TypedResults.Created($"/api/projects/{projectId}/images", new UploadResponse([.. outcome.Stored.Select(ToDto)], outcome.Rejected));
    }

    public static async Task<Results<Ok<ImagePage>, ProblemHttpResult>> ListImagesAsync(
        Guid projectId,
        ClaimsPrincipal user,
        CellSegDbContext db,
        CancellationToken cancellationToken,
        string? status = null,
        int page = 1,
        int pageSize = 50)
    {
        if (page < 1 || pageSize is < 1 or > 100)
        {
            return Problems.BadRequest("Invalid paging", "page starts at 1 and pageSize is between 1 and 100.");
        }

        ImageStatus? wanted = null;
        if (status is not null)
        {
            if (!Enum.TryParse<ImageStatus>(status, ignoreCase: true, out var parsed) || int.TryParse(status, out _))
            {
                return Problems.BadRequest("Unknown status", $"'{status}' is not one of: none, queued, processing, segmented, failed.");
            }

            wanted = parsed;
        }

        var ownerId = user.Id();
        if (!await db.OwnsProjectAsync(ownerId, projectId, cancellationToken))
        {
            return Problems.NotFound("project", projectId);
        }

        var query = db.Images.AsNoTracking().Where(i => i.ProjectId == projectId);
        if (wanted is { } only)
        {
            query = query.Where(i => i.Status == only);
        }

        var total = await query.CountAsync(cancellationToken);
        var items = await query
            .OrderBy(i => i.CreatedAt).ThenBy(i => i.Id)
            .Skip((page - 1) * pageSize).Take(pageSize)
            .ToListAsync(cancellationToken);
        return TypedResults.Ok(new ImagePage([.. items.Select(ToDto)], page, pageSize, total));
    }

    public static async Task<Results<Ok<ImageDto>, ProblemHttpResult>> GetImageAsync(
        Guid imageId, ClaimsPrincipal user, CellSegDbContext db, CancellationToken cancellationToken)
    {
        var image = await OwnedImages(db, user).AsNoTracking().SingleOrDefaultAsync(i => i.Id == imageId, cancellationToken);
        return image is null ? Problems.NotFound("image", imageId) : TypedResults.Ok(ToDto(image));
    }

    public static async Task<Results<NoContent, ProblemHttpResult>> DeleteImageAsync(
        Guid imageId, ClaimsPrincipal user, CellSegDbContext db, SegmentationRequests requests, CancellationToken cancellationToken)
    {
        if (!await OwnedImages(db, user).AnyAsync(i => i.Id == imageId, cancellationToken))
        {
            return Problems.NotFound("image", imageId);
        }

        // Cancelling first tells the workers to drop the image's task; the foreign keys then cascade tasks and results.
        await requests.CancelAsync(user.Id(), tasks => tasks.Where(t => t.ImageId == imageId), cancellationToken);
        await db.Images.Where(i => i.Id == imageId).ExecuteDeleteAsync(cancellationToken);
        return TypedResults.NoContent();
    }

    public static async Task<Results<Ok<DeletedImages>, ProblemHttpResult>> DeleteImagesAsync(
        Guid projectId, DeleteImagesRequest request, ClaimsPrincipal user, CellSegDbContext db, SegmentationRequests requests, CancellationToken cancellationToken)
    {
        var ownerId = user.Id();
        if (!await db.OwnsProjectAsync(ownerId, projectId, cancellationToken))
        {
            return Problems.NotFound("project", projectId);
        }

        if (request.ImageIds is not { Count: > 0 and <= SegmentationApi.MaxImagesPerRequest } ids)
        {
            return Problems.BadRequest("Invalid image list", $"Send between 1 and {SegmentationApi.MaxImagesPerRequest} image ids.");
        }

        var distinct = ids.Distinct().ToList();
        var found = await db.Images
            .Where(i => i.ProjectId == projectId && distinct.Contains(i.Id))
            .Select(i => i.Id)
            .ToListAsync(cancellationToken);
        if (found.Count > 0)
        {
            await requests.CancelAsync(ownerId, tasks => tasks.Where(t => found.Contains(t.ImageId)), cancellationToken);
            await db.Images.Where(i => i.ProjectId == projectId && found.Contains(i.Id)).ExecuteDeleteAsync(cancellationToken);
        }

        var deleted = found.ToHashSet();
        return TypedResults.Ok(new DeletedImages(found, [.. distinct.Where(id => !deleted.Contains(id))]));
    }

    public static async Task<Results<FileContentHttpResult, ProblemHttpResult>> GetThumbnailAsync(
        Guid imageId,
        ClaimsPrincipal user,
        CellSegDbContext db,
        IOptions<UploadOptions> uploadOptions,
        CancellationToken cancellationToken,
        int size = Thumbnail.DefaultSize)
    {
        if (size is < 1 or > Thumbnail.MaxSize)
        {
            return Problems.BadRequest("Invalid size", $"size is between 1 and {Thumbnail.MaxSize} pixels.");
        }

        var data = await OwnedImages(db, user)
            .Where(i => i.Id == imageId)
            .Select(i => i.Content!.Data)
            .SingleOrDefaultAsync(cancellationToken);
        if (data is null)
        {
            return Problems.NotFound("image", imageId);
        }

        try
        {
            var png = Thumbnail.Render(data, size, new ImageDecodeOptions { MaxPixels = uploadOptions.Value.MaxImagePixels });
            return TypedResults.File(png, "image/png");
        }
        catch (ImageDecodeException ex)
        {
            return TypedResults.Problem(
                title: "Undecodable image",
                detail: $"Image {imageId} cannot be decoded: {ex.Reason}",
                statusCode: StatusCodes.Status422UnprocessableEntity);
        }
    }

    internal static IQueryable<Image> OwnedImages(CellSegDbContext db, ClaimsPrincipal user)
    {
        var ownerId = user.Id();
        return db.Images.Where(i => i.Project!.OwnerId == ownerId);
    }

    private static ImageDto ToDto(Image image) => new(
        image.Id, image.ProjectId, image.FileName, image.Format, image.Width, image.Height, image.SizeBytes,
        image.Status.ToString().ToLowerInvariant(), image.Error, image.CreatedAt, image.UpdatedAt);
}
