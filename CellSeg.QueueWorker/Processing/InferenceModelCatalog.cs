using System.Collections.Concurrent;
using Microsoft.Extensions.Options;

namespace CellSeg.QueueWorker.Processing;

/// <summary>The largest safe batch of each model, as Inference's <c>/v1/models</c> reports it.</summary>
public sealed class InferenceModelCatalog(IOptions<SegmentationWorkerOptions> options)
{
    private readonly ConcurrentDictionary<string, int> _maxBatch = new(StringComparer.Ordinal);

    public int MaxBatch(string model) => _maxBatch.TryGetValue(model, out var value) && value > 0 ? value : options.Value.DefaultMaxBatch;

    public void Update(IEnumerable<InferenceModel> models)
    {
        foreach (var model in models.Where(m => m.State == "ready"))
        {
            _maxBatch[model.Name] = model.MaxBatch;
        }
    }
}

public sealed record InferenceModel(string Name, string State, int MaxBatch);
