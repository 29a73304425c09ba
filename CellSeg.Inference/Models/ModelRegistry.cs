using System.Collections.Concurrent;
using System.Diagnostics.Metrics;
using CellSeg.Inference.Batching;
using Microsoft.Extensions.Options;
using Microsoft.ML.OnnxRuntime;
using SessionOptions = Microsoft.ML.OnnxRuntime.SessionOptions;

namespace CellSeg.Inference.Models;

/// <summary>The models this instance serves and the state of each; a model that fails to load is reported, not fatal.</summary>
public sealed partial class ModelRegistry : IAsyncDisposable
{
    private readonly ConcurrentDictionary<string, ModelEntry> _entries = new(StringComparer.OrdinalIgnoreCase);
    private readonly IOptions<InferenceOptions> _options;
    private readonly IOptions<BatchingOptions> _batching;
    private readonly InferenceTelemetry _telemetry;
    private readonly TimeProvider _time;
    private readonly ILogger<ModelRegistry> _logger;

    public ModelRegistry(
        IOptions<InferenceOptions> options,
        IOptions<BatchingOptions> batching,
        InferenceTelemetry telemetry,
        TimeProvider time,
        ILogger<ModelRegistry> logger)
    {
        _options = options;
        _batching = batching;
        _telemetry = telemetry;
        _time = time;
        _logger = logger;
        telemetry.ObserveQueueDepth(() => _entries.Values
            .Where(e => e.Batcher is not null)
            .Select(e => new Measurement<int>(e.Batcher!.QueueDepth, new KeyValuePair<string, object?>("model", e.Name))));
    }

    public IEnumerable<ModelEntry> Entries => _entries.Values.OrderBy(e => e.Name, StringComparer.Ordinal);

    public bool AllConfiguredReady =>
        _options.Value.Models.All(name => _entries.TryGetValue(name, out var entry) && entry.State == ModelState.Ready);

    public bool TryGet(string name, out ModelEntry entry) => _entries.TryGetValue(name, out entry!);

    public void LoadConfigured()
    {
        var root = Path.IsPathRooted(_options.Value.ModelsPath)
            ? _options.Value.ModelsPath
            : Path.Combine(AppContext.BaseDirectory, _options.Value.ModelsPath);

        foreach (var name in _options.Value.Models)
        {
            _entries[name] = new ModelEntry(name, ModelState.Loading);
            _entries[name] = Load(name, Path.Combine(root, name));
        }
    }

    private ModelEntry Load(string name, string folder)
    {
        try
        {
            var descriptor = ModelDescriptor.Read(Path.Combine(folder, "model.json"));
            var (session, device) = CreateSession(Path.Combine(folder, "model.onnx"));
            LogLoaded(_logger, name, descriptor.Version, device);
            var model = new LoadedModel(descriptor, session, device);
            return new ModelEntry(name, ModelState.Ready)
            {
                Model = model,
                Batcher = new ModelBatcher(model, _batching.Value, _telemetry, _time, _logger),
            };
        }
        catch (Exception ex) when (ex is IOException or InvalidDataException or OnnxRuntimeException or UnauthorizedAccessException or System.Text.Json.JsonException)
        {
            LogLoadFailed(_logger, ex, name);
            return new ModelEntry(name, ModelState.Failed) { Error = ex.Message };
        }
    }

    private (InferenceSession Session, string Device) CreateSession(string modelPath)
    {
        var settings = _options.Value;
        if (settings.Device == "cuda")
        {
            try
            {
                using var cudaOptions = CreateSessionOptions(cpu: false);
                cudaOptions.AppendExecutionProvider_CUDA(settings.CudaDeviceId);
                return (new InferenceSession(modelPath, cudaOptions), $"cuda:{settings.CudaDeviceId}");
            }
            catch (Exception ex) when (ex is OnnxRuntimeException or EntryPointNotFoundException or DllNotFoundException)
            {
                LogCudaFallback(_logger, ex.Message);
            }
        }

        using var cpuOptions = CreateSessionOptions(cpu: true);
        return (new InferenceSession(modelPath, cpuOptions), "cpu");
    }

    private SessionOptions CreateSessionOptions(bool cpu)
    {
        var sessionOptions = new SessionOptions
        {
            GraphOptimizationLevel = GraphOptimizationLevel.ORT_ENABLE_ALL,
            ExecutionMode = ExecutionMode.ORT_SEQUENTIAL,
        };
        if (_options.Value.IntraOpThreads > 0 || cpu)
        {
            sessionOptions.IntraOpNumThreads = Math.Max(1, _options.Value.IntraOpThreads);
        }

        return sessionOptions;
    }

    public async ValueTask DisposeAsync()
    {
        foreach (var entry in _entries.Values)
        {
            if (entry.Batcher is not null)
            {
                await entry.Batcher.DisposeAsync();
            }

            entry.Model?.Dispose();
        }
    }

    [LoggerMessage(Level = LogLevel.Information, Message = "Loaded model {Model} v{Version} on {Device}")]
    private static partial void LogLoaded(ILogger logger, string model, string version, string device);

    [LoggerMessage(Level = LogLevel.Error, Message = "Model {Model} failed to load")]
    private static partial void LogLoadFailed(ILogger logger, Exception exception, string model);

    [LoggerMessage(Level = LogLevel.Warning, Message = "CUDA execution provider unavailable, running on CPU: {Reason}")]
    private static partial void LogCudaFallback(ILogger logger, string reason);
}

public sealed record ModelEntry(string Name, ModelState State)
{
    public LoadedModel? Model { get; init; }
    public ModelBatcher? Batcher { get; init; }
    public string? Error { get; init; }
}
