using System.Collections.Concurrent;
using CellSeg.LoadGen.Quality;

namespace CellSeg.ModelTests;

/// <summary>One ONNX Runtime session per model for the whole run: creating a session costs more than most tests.</summary>
public sealed class LoadedNetworks : IDisposable
{
    private readonly ConcurrentDictionary<string, Lazy<SegmentationNetwork>> _networks = new(StringComparer.Ordinal);

    public SegmentationNetwork this[string model] =>
        _networks.GetOrAdd(model, name => new Lazy<SegmentationNetwork>(() => SegmentationNetwork.Load(ModelFolders.Folder(name)))).Value;

    public void Dispose()
    {
        foreach (var network in _networks.Values.Where(n => n.IsValueCreated))
        {
            network.Value.Dispose();
        }
    }
}
