namespace CellSeg.Data.Model;

/// <summary>An uploaded microscopy image. Its bytes live in <see cref="ImageContent"/> so listings never load them.</summary>
public sealed class Image
{
    public Guid Id { get; set; } = Guid.CreateVersion7();
    public Guid ProjectId { get; set; }
    public required string FileName { get; set; }
    public required string Format { get; set; }
    public int Width { get; set; }
    public int Height { get; set; }
    public long SizeBytes { get; set; }
    public ImageStatus Status { get; set; } = ImageStatus.None;
    public string? Error { get; set; }
    public DateTimeOffset CreatedAt { get; set; } = DateTimeOffset.UtcNow;
    public DateTimeOffset UpdatedAt { get; set; } = DateTimeOffset.UtcNow;

    public Project? Project { get; set; }
    public ImageContent? Content { get; set; }
}

public enum ImageStatus
{
    None,
    Queued,
    Processing,
    Segmented,
    Failed,
}

public sealed class ImageContent
{
    public Guid ImageId { get; set; }
    public required byte[] Data { get; set; }
}
