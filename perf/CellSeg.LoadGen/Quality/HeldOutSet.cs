using System.Text.Json;

namespace CellSeg.LoadGen.Quality;

/// <summary>One held-out image with its true mask; style and bit depth come from the manifest when there is one.</summary>
public sealed record HeldOutImage(string Name, string ImagePath, string MaskPath, string? Style, int? BitDepth);

/// <summary>
/// The held-out images of <c>training/heldout/</c>, in the manifest's order. Without a manifest every
/// <c>NAME_mask.png</c> is paired with the one other file named <c>NAME.*</c>, in ordinal order of the names.
/// </summary>
public static class HeldOutSet
{
    private const string MaskSuffix = "_mask.png";

    private static readonly JsonSerializerOptions s_json = new(JsonSerializerDefaults.Web);

    private sealed record Manifest(List<ManifestEntry> Images);

    private sealed record ManifestEntry(string Image, string Mask, string? Style, int? BitDepth);

    public static IReadOnlyList<HeldOutImage> Load(string folder)
    {
        if (!Directory.Exists(folder))
        {
            throw new DirectoryNotFoundException($"No held-out folder at {folder}.");
        }

        var manifestPath = Path.Combine(folder, "manifest.json");
        var images = File.Exists(manifestPath) ? FromManifest(folder, manifestPath) : FromListing(folder);
        if (images.Count == 0)
        {
            throw new InvalidDataException($"{folder} holds no image with a {MaskSuffix} mask.");
        }

        foreach (var image in images)
        {
            if (!File.Exists(image.ImagePath) || !File.Exists(image.MaskPath))
            {
                throw new FileNotFoundException($"Held-out pair {image.ImagePath} / {image.MaskPath} is incomplete.");
            }
        }

        return images;
    }

    private static List<HeldOutImage> FromManifest(string folder, string manifestPath)
    {
        using var stream = File.OpenRead(manifestPath);
        var manifest = JsonSerializer.Deserialize<Manifest>(stream, s_json)
            ?? throw new InvalidDataException($"{manifestPath} is empty.");
        return manifest.Images
            .Select(e => new HeldOutImage(e.Image, Path.Combine(folder, e.Image), Path.Combine(folder, e.Mask), e.Style, e.BitDepth))
            .ToList();
    }

    private static List<HeldOutImage> FromListing(string folder)
    {
        var images = new List<HeldOutImage>();
        foreach (var mask in Directory.GetFiles(folder, "*" + MaskSuffix).Order(StringComparer.Ordinal))
        {
            var stem = Path.GetFileName(mask)[..^MaskSuffix.Length];
            var image = Directory.GetFiles(folder, stem + ".*")
                .SingleOrDefault(f => !f.EndsWith(".json", StringComparison.OrdinalIgnoreCase))
                ?? throw new InvalidDataException($"{mask} has no single image named {stem}.* beside it.");
            images.Add(new HeldOutImage(Path.GetFileName(image), image, mask, null, null));
        }

        return images;
    }
}
