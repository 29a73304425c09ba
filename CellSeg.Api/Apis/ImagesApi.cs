using System.Security.Claims;
using System.Text.Json;
using CellSeg.Data;
using CellSeg.Data.Model;
using CellSeg.Imaging.Decoding;
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
            .DisableAntiforgery();
        api.MapGet("/projects/{projectId:guid}/images", ListImagesAsync)
            .WithName("ListImages")
            .WithSummary("A page of a project's images, optionally only those with one status.");
        api.MapGet("/images/{imageId:guid}", GetImageAsync)
            .WithName("GetImage")
            .WithSummary("An image's size and segmentation status.");
        api.MapGet("/images/{imageId:guid}/result", GetResultAsync)
            .WithName("GetSegmentationResult")
            .WithSummary("The polygons of the image's latest segmentation.");

        return app;
    }

    public sealed record ImageDto(
        Guid Id, Guid ProjectId, string FileName, string Format, int Width, int Height, long SizeBytes,
        string Status, string? Error, DateTimeOffset CreatedAt, DateTimeOffset UpdatedAt);

    public sealed record ImagePage(IReadOnlyList<ImageDto> Items, int Page, int PageSize, int Total);

    public sealed record RejectedFile(string FileName, string Reason);

    public sealed record UploadResponse(IReadOnlyList<ImageDto> Images, IReadOnlyList<RejectedFile> Rejected);

    public sealed record ResultDto(
        Guid ImageId, Guid TaskId, string Model, string Device, int Width, int Height, int ObjectCount,
        JsonElement Objects, DateTimeOffset CreatedAt);

    public static async Task<Results<Created<UploadResponse>, ProblemHttpResult>> UploadImagesAsync(
        Guid projectId,
        HttpRequest request,
        ClaimsPrincipal user,
        CellSegDbContext db,
        IOptions<UploadOptions> uploadOptions,
        ApiTelemetry telemetry,
        CancellationToken cancellationToken)
    {
        var ownerId = user.Id();
        if (!await db.Projects.AnyAsync(p => p.Id == projectId && p.OwnerId == ownerId, cancellationToken))
        {
            return Problems.NotFound("project", projectId);
        }

        if (!request.HasFormContentType)
        {
            return Problems.BadRequest("Not a multipart form", "Upload images as multipart/form-data files.");
        }

        var limits = uploadOptions.Value;
        var form = await request.ReadFormAsync(cancellationToken);
        if (form.Files.Count == 0)
        {
            return Problems.BadRequest("No files", "The form has no files.");
        }

        if (form.Files.Count > limits.MaxFilesPerRequest)
        {
            return Problems.BadRequest("Too many files", $"At most {limits.MaxFilesPerRequest} files per request; this one has {form.Files.Count}.");
        }

        var headerLimits = new ImageDecodeOptions { MaxPixels = limits.MaxImagePixels };
        var accepted = new List<Image>();
        var rejected = new List<RejectedFile>();
        foreach (var file in form.Files)
        {
            var fileName = Path.GetFileName(file.FileName);
            if (file.Length == 0)
            {
                rejected.Add(new RejectedFile(fileName, "The file is empty."));
                continue;
            }

            if (file.Length > limits.MaxFileBytes)
            {
                rejected.Add(new RejectedFile(fileName, $"The file is larger than {limits.MaxFileBytes} bytes."));
                continue;
            }

            var bytes = new byte[file.Length];
            await using (var stream = file.OpenReadStream())
            {
                await stream.ReadExactlyAsync(bytes, cancellationToken);
            }

            if (!ImageHeaderReader.TryRead(bytes, headerLimits, out var info, out var failure))
            {
                rejected.Add(new RejectedFile(fileName, failure.Reason));
                continue;
            }

            var image = new Image
            {
                ProjectId = projectId,
                FileName = fileName,
                Format = info.Format.ToString().ToLowerInvariant(),
                Width = info.Width,
                Height = info.Height,
                SizeBytes = bytes.Length,
                Content = new ImageContent { Data = bytes },
            };
            accepted.Add(image);
        }

        telemetry.UploadsRejected.Add(rejected.Count);
        if (accepted.Count == 0)
        {
            return TypedResults.Problem(
                title: "No image accepted",
                detail: string.Join(" ", rejected.Select(r => $"{r.FileName}: {r.Reason}")),
                statusCode: StatusCodes.Status400BadRequest,
                extensions: new Dictionary<string, object?> { ["rejected"] = rejected });
        }

        db.Images.AddRange(accepted);
        await db.SaveChangesAsync(cancellationToken);
        telemetry.ImagesUploaded.Add(accepted.Count);

        return TypedResults.Created($"/api/projects/{projectId}/images", new UploadResponse([.. accepted.Select(ToDto)], rejected));
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
        if (!await db.Projects.AnyAsync(p => p.Id == projectId && p.OwnerId == ownerId, cancellationToken))
        {
            return Problems.NotFound("project", projectId);
        }

        var query = db.Images.Where(i => i.ProjectId == projectId);
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
        var image = await OwnedImages(db, user).SingleOrDefaultAsync(i => i.Id == imageId, cancellationToken);
        return image is null ? Problems.NotFound("image", imageId) : TypedResults.Ok(ToDto(image));
    }

    public static async Task<Results<Ok<ResultDto>, ProblemHttpResult>> GetResultAsync(
        Guid imageId, ClaimsPrincipal user, CellSegDbContext db, CancellationToken cancellationToken)
    {
        if (!await OwnedImages(db, user).AnyAsync(i => i.Id == imageId, cancellationToken))
        {
            return Problems.NotFound("image", imageId);
        }

        var result = await db.SegmentationResults
            .Where(r => r.ImageId == imageId)
            .OrderByDescending(r => r.CreatedAt)
            .FirstOrDefaultAsync(cancellationToken);
        if (result is null)
        {
            return TypedResults.Problem(title: "No result yet", detail: $"Image {imageId} has not been segmented.", statusCode: StatusCodes.Status404NotFound);
        }

        using var objects = JsonDocument.Parse(result.Objects);
        return TypedResults.Ok(new ResultDto(
            result.ImageId, result.TaskId, result.Model, result.Device, result.Width, result.Height, result.ObjectCount,
            objects.RootElement.Clone(), result.CreatedAt));
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
