using CellSeg.LoadGen.Topology;

// Every test runs networks on all cores; running two at once on a small machine only makes both slower.
[assembly: CollectionBehavior(DisableTestParallelization = true)]
[assembly: AssemblyFixture(typeof(CellSeg.ModelTests.LoadedNetworks))]

namespace CellSeg.ModelTests;

/// <summary>
/// The models present under <c>models/</c>: every folder with a <c>model.json</c>, which the exporter writes last,
/// so a model still being trained or exported is not picked up half-written.
/// </summary>
public static class ModelFolders
{
    public static string Root { get; } = Path.Combine(RepositoryLayout.Root, "models");

    public static string HeldOut { get; } = Path.Combine(RepositoryLayout.Root, "training", "heldout");

    public static TheoryData<string> Present
    {
        get
        {
            var names = Directory.GetDirectories(Root)
                .Where(d => File.Exists(Path.Combine(d, "model.json")))
                .Select(Path.GetFileName)
                .OfType<string>()
                .Order(StringComparer.Ordinal);
            return new TheoryData<string>(names);
        }
    }

    public static string Folder(string model) => Path.Combine(Root, model);
}
