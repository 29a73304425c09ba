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
            var model = string.Equals(name, LoadedModel.NoOpName, StringComparison.OrdinalIgnoreCase)
                ? LoadedModel.NoOp()
                : LoadFolder(folder);
            LogLoaded(_logger, name, model.Descriptor.Version, model.Device);
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

    private LoadedModel LoadFolder(string folder)
    {
        var descriptor = ModelDescriptor.Read(Path.Combine(folder, "model.json"));
        var modelPath = Path.Combine(folder, "model.onnx");
        var (session, device) = CreateSession(modelPath);
        var (latencySession, pinning) = CreateLatencySession(modelPath, device, descriptor.Name);
        return new LoadedModel(descriptor, session, device, latencySession, pinning);
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

    /// <summary>A session on every core for lone requests, where the main session runs on fewer threads.</summary>
    private (InferenceSession? Session, LoneRunPinning? Pinning) CreateLatencySession(string modelPath, string device, string model)
    {
        var settings = _options.Value;
        var cores = Environment.ProcessorCount;
        if (device != "cpu" || !settings.LatencySession || cores < 2 || Math.Max(1, settings.IntraOpThreads) >= cores)
        {
            return (null, null);
        }

        var pinning = settings.PinLoneRuns ? LoneRunPinning.Plan(CpuAffinity.Allowed(), cores) : null;
        try
        {
            var session = Create(pinning);
            if (pinning is not null)
            {
                LogPinned(_logger, model, pinning.CallerCpu, pinning.ThreadCpus);
            }

            return (session, pinning);
        }
        catch (OnnxRuntimeException ex) when (pinning is not null)
        {
            LogPinningFailed(_logger, model, ex.Message);
            return (Create(null), null);
        }

        InferenceSession Create(LoneRunPinning? threads)
        {
            using var options = CreateSessionOptions(cpu: true);
            options.IntraOpNumThreads = cores;
            if (threads is not null)
            {
                options.AddSessionConfigEntry("session.intra_op_thread_affinities", threads.ThreadAffinities);
            }

            return new InferenceSession(modelPath, options);
        }
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

        // ONNX Runtime's intra-op threads spin between the operators of a call, which hands each operator to them
        // without a wake-up (a lone hrnet call: p50 13.3 → 11.2 ms against no spinning). Left to spin after the call
        // too, they take the cores from decoding, post-processing and HTTP (one-client p95 twice the p50); they
        // stop as the last concurrent call returns.
        sessionOptions.AddSessionConfigEntry("session.force_spinning_stop", "1");

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

    [LoggerMessage(Level = LogLevel.Information, Message = "Lone runs of {Model} call from CPU {CallerCpu}, with ONNX Runtime's threads on CPUs {ThreadCpus}")]
    private static partial void LogPinned(ILogger logger, string model, int callerCpu, IReadOnlyList<int> threadCpus);

    [LoggerMessage(Level = LogLevel.Warning, Message = "Lone runs of {Model} stay unpinned: ONNX Runtime refused the thread affinities: {Reason}")]
    private static partial void LogPinningFailed(ILogger logger, string model, string reason);

    [LoggerMessage(Level = LogLevel.Warning, Message = "CUDA execution provider unavailable, running on CPU: {Reason}")]
    private static partial void LogCudaFallback(ILogger logger, string reason);
}

public sealed record ModelEntry(string Name, ModelState State)
{
    public LoadedModel? Model { get; init; }
    public ModelBatcher? Batcher { get; init; }
    public string? Error { get; init; }
}
