using System.ComponentModel.DataAnnotations;

namespace CellSeg.Api;

public sealed class UploadOptions
{
    public const string SectionName = "Uploads";

    /// <summary>At most 1 GiB: a file is held in one array while it is checked, and Postgres stores at most that in a bytea.</summary>
    [Range(1, 1L << 30)]
    public long MaxFileBytes { get; set; } = 20L * 1024 * 1024;

    [Range(1, 10_000)]
    public int MaxFilesPerRequest { get; set; } = 100;

    /// <summary>Header dimensions above this are refused as decompression bombs before any decoding.</summary>
    [Range(1, long.MaxValue)]
    public long MaxImagePixels { get; set; } = 100_000_000;
}

public sealed class SegmentationOptions
{
    public const string SectionName = "Segmentation";

    [Required]
    public string DefaultModel { get; set; } = "hrnet";

    /// <summary>Model names a request may ask for (from configuration only: a default here would be appended to).</summary>
    [MinLength(1)]
    public List<string> Models { get; set; } = [];
}
