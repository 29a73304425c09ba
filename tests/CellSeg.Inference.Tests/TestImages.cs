using CellSeg.LoadGen.Topology;

namespace CellSeg.Inference.Tests;

/// <summary>Images from tests/assets the service tests send.</summary>
internal static class TestImages
{
    /// <summary>One spheroid in a 512 × 512 PNG: one external object.</summary>
    public static readonly byte[] SingleSpheroid = File.ReadAllBytes(Path.Combine(RepositoryLayout.Root, "tests", "assets", "single-spheroid.png"));
}
