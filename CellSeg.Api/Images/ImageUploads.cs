using CellSeg.Data;
using CellSeg.Data.Model;
using CellSeg.Imaging.Decoding;
using Microsoft.AspNetCore.WebUtilities;
using Microsoft.EntityFrameworkCore;
using Microsoft.Extensions.Options;
using Microsoft.Net.Http.Headers;
using Npgsql;
using NpgsqlTypes;

namespace CellSeg.Api.Images;

/// <summary>
/// A file of an upload that was not stored, as a problem of its own (RFC 9457 title, status and detail).
/// <see cref="Reason"/> repeats the detail for clients written against the first version of the upload answer.
/// </summary>
public sealed record RejectedFile(string FileName, string Title, int Status, string Detail)
{
    public string Reason => Detail;
}

public sealed record UploadOutcome(IReadOnlyList<Image> Stored, IReadOnlyList<RejectedFile> Rejected);

/// <summary>
/// Receives a multipart upload one file section at a time: each section is read once into a pooled buffer (never
/// more than the per-file limit), its header checked, and a valid file committed before the next section is read.
/// A request of a hundred 20 MB files therefore holds one file in memory, not the form.
/// </summary>
public sealed class ImageUploads(CellSegDbContext db, IOptions<UploadOptions> options, ApiTelemetry telemetry)
{
    public const string MultipartFormData = "multipart/form-data";

    /// <summary>Room for each section's headers and the boundaries, on top of the files themselves.</summary>
    private const long SectionOverheadBytes = 16 * 1024;

    /// <summary>
    /// The largest request body an upload may send: every file at its limit plus their section headers. Kestrel's
    /// default (30 MB) would cut off an upload far below what the per-file and per-request limits allow.
    /// </summary>
    public long MaxRequestBodyBytes => (options.Value.MaxFilesPerRequest * (options.Value.MaxFileBytes + SectionOverheadBytes)) + (64 * 1024);

    /// <summary>The boundary of a multipart/form-data content type, or null when the request is no such form.</summary>
    public static string? Boundary(string? contentType)
    {
        if (!MediaTypeHeaderValue.TryParse(contentType, out var mediaType)
            || !mediaType.MediaType.Equals(MultipartFormData, StringComparison.OrdinalIgnoreCase))
        {
            return null;
        }

        var boundary = HeaderUtilities.RemoveQuotes(mediaType.Boundary).Value;
        return string.IsNullOrWhiteSpace(boundary) || boundary.Length > 70 ? null : boundary;
    }

    public async Task<UploadOutcome> ReceiveAsync(Guid projectId, string boundary, Stream body, CancellationToken cancellationToken)
    {
        var reader = new MultipartReader(boundary, body);
        var stored = new List<Image>();
        var rejected = new List<RejectedFile>();
        using var buffer = new EncodedImageBuffer();
        var fileName = "";
        try
        {
            // ReadNextSectionAsync drains what is left of the previous section in small chunks, so a refused file is
            // skipped without being held.
            while (await reader.ReadNextSectionAsync(cancellationToken) is { } section)
            {
                if (section.GetContentDispositionHeader() is not { } disposition || !disposition.IsFileDisposition())
                {
                    continue;
                }

                fileName = Path.GetFileName(HeaderUtilities.RemoveQuotes(
                    disposition.FileNameStar.HasValue ? disposition.FileNameStar : disposition.FileName).Value ?? "");
                if (stored.Count + rejected.Count >= options.Value.MaxFilesPerRequest)
                {
                    rejected.Add(new RejectedFile(fileName, "Too many files", StatusCodes.Status400BadRequest,
                        $"At most {options.Value.MaxFilesPerRequest} files per request; this file came after them."));
                    continue;
                }

                var (image, refusal) = await ReceiveFileAsync(projectId, fileName, section.Body, buffer, cancellationToken);
                if (image is not null)
                {
                    stored.Add(image);
                }
                else
                {
                    rejected.Add(refusal!);
                }
            }
        }
        catch (Exception ex) when (ex is InvalidDataException or (IOException and not BadHttpRequestException))
        {
            // A body cut short or with broken section headers: what was committed stays, the rest is reported.
            rejected.Add(new RejectedFile(fileName, "Malformed multipart body", StatusCodes.Status400BadRequest,
                $"The form cannot be read from here on: {ex.Message}"));
        }

        telemetry.ImagesUploaded.Add(stored.Count);
        telemetry.UploadsRejected.Add(rejected.Count);
        return new UploadOutcome(stored, rejected);
    }

    /// <summary>Reads one file section and stores it, or says why not.</summary>
    private async Task<(Image? Stored, RejectedFile? Refused)> ReceiveFileAsync(
        Guid projectId, string fileName, Stream section, EncodedImageBuffer buffer, CancellationToken cancellationToken)
    {
        var limits = options.Value;
        if (fileName.Length is 0 or > 260)
        {
            return (null, new RejectedFile(fileName, "Invalid file name", StatusCodes.Status400BadRequest, "A file needs a name of 1 to 260 characters."));
        }

        if (!await buffer.FillAsync(section, limits.MaxFileBytes, cancellationToken))
        {
            return (null, new RejectedFile(fileName, "File too large", StatusCodes.Status413RequestEntityTooLarge,
                $"The file is larger than {limits.MaxFileBytes:N0} bytes."));
        }

        if (!ImageHeaderReader.TryRead(buffer.Data.Span, new ImageDecodeOptions { MaxPixels = limits.MaxImagePixels }, out var info, out var failure))
        {
            return (null, Refused(fileName, failure));
        }

        return (await StoreAsync(projectId, fileName, info, buffer.Data, cancellationToken), null);
    }

    /// <summary>Commits the image and its bytes together; the change tracker is left empty.</summary>
    private async Task<Image> StoreAsync(Guid projectId, string fileName, ImageInfo info, ReadOnlyMemory<byte> data, CancellationToken cancellationToken)
    {
        var strategy = db.Database.CreateExecutionStrategy();
        return await strategy.ExecuteAsync(async ct =>
        {
            db.ChangeTracker.Clear();
            var image = new Image(DateTimeOffset.UtcNow)
            {
                ProjectId = projectId,
                FileName = fileName,
                Format = info.Format.ToString().ToLowerInvariant(),
                Width = info.Width,
                Height = info.Height,
                SizeBytes = data.Length,
            };
            await using var transaction = await db.Database.BeginTransactionAsync(ct);
            db.Images.Add(image);
            await db.SaveChangesAsync(ct);
            // The bytes go straight from the pooled buffer to Npgsql: an entity would need an array of their own.
            var bytes = new NpgsqlParameter<ReadOnlyMemory<byte>>("data", NpgsqlDbType.Bytea) { TypedValue = data };
            await db.Database.ExecuteSqlAsync($"""INSERT INTO image_contents ("ImageId", "Data") VALUES ({image.Id}, {bytes})""", ct);
            await transaction.CommitAsync(ct);
            db.ChangeTracker.Clear();
            return image;
        }, cancellationToken);
    }

    private static RejectedFile Refused(string fileName, ImageDecodeFailure failure) => failure.Error switch
    {
        ImageDecodeError.Empty => new(fileName, "Empty file", StatusCodes.Status400BadRequest, failure.Reason),
        ImageDecodeError.UnsupportedFormat => new(fileName, "Unsupported file type", StatusCodes.Status415UnsupportedMediaType, failure.Reason),
        ImageDecodeError.TooLarge => new(fileName, "Image too large", StatusCodes.Status422UnprocessableEntity, failure.Reason),
        _ => new(fileName, "Unreadable image", StatusCodes.Status422UnprocessableEntity, failure.Reason),
    };
}
