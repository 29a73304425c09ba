using System.Buffers;
using System.Diagnostics;
using CellSeg.Inference.Models;
using Microsoft.ML.OnnxRuntime;

namespace CellSeg.Inference.Batching;

/// <summary>
/// Gathers one model's requests into batches: higher priority first, then arrival order; up to the largest batch
/// the model (on a CPU, its <see cref="BatchingOptions.CpuBatch"/>) and the memory budget allow. Executors, each on a
/// thread of its own, share the model's one session. A batch over the memory budget,
/// or one that runs out of memory, is split in halves and retried, so no image fails because of its neighbours.
/// </summary>
public sealed partial class ModelBatcher : IAsyncDisposable
{
    private readonly LoadedModel _model;
    private readonly BatchingOptions _options;
    private readonly InferenceTelemetry _telemetry;
    private readonly TimeProvider _time;
    private readonly ILogger _logger;
    private readonly PriorityQueue<PendingImage, (int Priority, long Sequence)> _queue = new();
    private readonly SemaphoreSlim _queued = new(0);
    private readonly CancellationTokenSource _stopping = new();
    private readonly Task[] _executors;
    private readonly int _maxBatch;
    private readonly int _runBatch;
    private readonly int _preferredBatch;
    private readonly long _bytesPerImage;
    private readonly int _imageLength;
    private long _sequence;
    private long _imagesServed;

    // Guards the two fields below: batches running now, and whether one of them is a lone image on every core.
    private readonly object _running = new();
    private int _runningBatches;
    private bool _aloneRunning;

    public ModelBatcher(LoadedModel model, BatchingOptions options, InferenceTelemetry telemetry, TimeProvider time, ILogger logger)
    {
        _model = model;
        _options = options;
        _telemetry = telemetry;
        _time = time;
        _logger = logger;
        var descriptor = model.Descriptor;
        _imageLength = model.InputLength;
        _maxBatch = Math.Max(1, options.MaxBatch > 0 ? options.MaxBatch : descriptor.MaxBatch);
        _runBatch = options.MaxBatch <= 0 && model.Device == "cpu" && options.CpuBatch.TryGetValue(descriptor.Name, out var cpuBatch) && cpuBatch > 0
            ? Math.Min(cpuBatch, _maxBatch)
            : _maxBatch;
        _preferredBatch = Math.Clamp(options.PreferredBatch > 0 ? options.PreferredBatch : descriptor.PreferredBatch, 1, _runBatch);
        // Without a measured figure: input and output tensors, times a working-set factor for the activations.
        _bytesPerImage = options.MemoryPerImageBytes > 0
            ? options.MemoryPerImageBytes
            : ((long)_imageLength + (descriptor.InputHeight * descriptor.InputWidth)) * sizeof(float) * 16;
        var executors = options.Executors > 0 ? options.Executors : model.Device == "cpu" ? Environment.ProcessorCount : 1;
        // Each executor is a thread of its own: a call blocks it for a whole network run, and on thread-pool threads
        // two such calls left no thread for the requests' own work until the pool grew (unet_spherohq at 8 clients:
        // up to 270 ms between a request's arrival and its decoding).
        _executors = [.. Enumerable.Range(0, executors).Select(_ => Task.Factory.StartNew(
            () => Execute(_stopping.Token), CancellationToken.None, TaskCreationOptions.LongRunning, TaskScheduler.Default))];
    }

    public string Model => _model.Descriptor.Name;

    public int QueueDepth
    {
        get
        {
            lock (_queue)
            {
                return _queue.Count;
            }
        }
    }

    /// <summary>
    /// Whether nothing is queued or running for the model now: a request arriving now would run alone, so its own work
    /// around the network may use the cores the network is not using.
    /// </summary>
    public bool IsIdle
    {
        get
        {
            lock (_running)
            {
                return NothingQueuedOrRunning;
            }
        }
    }

    /// <summary><see cref="IsIdle"/>, for a caller that holds the lock on <c>_running</c>.</summary>
    private bool NothingQueuedOrRunning => _runningBatches == 0 && QueueDepth == 0;

    /// <summary>The most images a caller may send at once: a worker's batch.</summary>
    public int MaxBatch => _maxBatch;

    /// <summary>The most images one network call takes here (<see cref="BatchingOptions.CpuBatch"/>).</summary>
    public int RunBatch => _runBatch;

    /// <summary>Images this instance has run through the model since it started.</summary>
    public long ImagesServed => Interlocked.Read(ref _imagesServed);

    /// <summary>
    /// Queues one image (a CHW tensor of the model's input size; the array may be longer, e.g. pooled) and waits for
    /// its probability map, which comes in an <see cref="ArrayPool{T}.Shared"/> array the caller returns.
    /// </summary>
    /// <exception cref="QueueFullException">The model's queue is at capacity.</exception>
    public Task<BatchResult> SubmitAsync(float[] input, int priority, CancellationToken cancellationToken)
    {
        if (input.Length < _imageLength)
        {
            throw new ArgumentException($"The input holds {input.Length} floats; the model takes {_imageLength}.", nameof(input));
        }

        if (TryRunNow(input, cancellationToken) is { } ranNow)
        {
            return ranNow;
        }

        var pending = new PendingImage(input, _time.GetTimestamp(), Activity.Current?.Context ?? default, cancellationToken);
        lock (_queue)
        {
            if (_queue.Count >= _options.QueueCapacity)
            {
                throw new QueueFullException(Model, _options.QueueCapacity);
            }

            // Higher priority first; equal priorities in arrival order.
            _queue.Enqueue(pending, (-priority, _sequence++));
        }

        pending.ListenForCancellation();
        _queued.Release();
        return pending.Completion.Task;
    }

    /// <summary>
    /// An image that finds the model idle (nothing queued or running) runs at once on the caller's thread, alone on
    /// every core, straight from the caller's tensor: it skips the queue, the copy into a batch tensor and the two
    /// thread hand-offs to an executor and back (a lone hrnet request: p50 0.3 ms less). Images arriving meanwhile
    /// queue, and the executors wait for it as for any lone run. Where executors are configured to wait for a batch
    /// to fill (<see cref="BatchingOptions.MaxQueueDelayMs"/>), the image queues and waits like any other.
    /// </summary>
    /// <returns>The finished result, or <see langword="null"/> where the image has to queue.</returns>
    private Task<BatchResult>? TryRunNow(float[] input, CancellationToken cancellationToken)
    {
        if (!_model.HasLatencySession || (_options.MaxQueueDelayMs > 0 && _preferredBatch > 1))
        {
            return null;
        }

        lock (_running)
        {
            // A lone run counts among the running batches.
            if (!NothingQueuedOrRunning)
            {
                return null;
            }

            _aloneRunning = true;
            _runningBatches++;
        }

        try
        {
            if (cancellationToken.IsCancellationRequested)
            {
                return Task.FromCanceled<BatchResult>(cancellationToken);
            }

            // A child of the request's own span: it runs inside it.
            using var activity = StartBatchActivity(1, []);
            activity?.SetTag("cellseg.alone", true);
            _telemetry.AloneRuns.Add(1, new KeyValuePair<string, object?>("model", Model));
            var started = _time.GetTimestamp();
            // Pooled: the caller returns it once its objects are extracted.
            var probabilities = ArrayPool<float>.Shared.Rent(_model.OutputLength);
            try
            {
                _model.Run(input, probabilities, 1, alone: true);
            }
            catch
            {
                ArrayPool<float>.Shared.Return(probabilities);
                throw;
            }

            var inferenceMs = RecordBatch(1, started);
            _telemetry.QueueWait.Record(0, new KeyValuePair<string, object?>("model", Model));
            return Task.FromResult(new BatchResult(probabilities, 1, 0, inferenceMs));
        }
        catch (Exception ex) when (ex is OnnxRuntimeException or InvalidOperationException or OutOfMemoryException)
        {
            return Task.FromException<BatchResult>(ex);
        }
        finally
        {
            EndRun(alone: true);
        }
    }

    private void Execute(CancellationToken stopping)
    {
        var batch = new List<PendingImage>(_runBatch);
        // Each executor owns its batch tensors, reused for every batch it runs.
        var buffers = new BatchBuffers(new float[_runBatch * _model.InputLength], new float[_runBatch * _model.OutputLength]);
        while (!stopping.IsCancellationRequested)
        {
            try
            {
                _queued.Wait(stopping);
            }
            catch (OperationCanceledException)
            {
                return;
            }

            if (_options.MaxQueueDelayMs > 0 && QueueDepth < _preferredBatch)
            {
                WaitForBatch(stopping);
            }

            batch.Clear();
            lock (_queue)
            {
                // Wait took the count of one queued image; each further image taken takes its own. A count
                // released after its image was already taken here only causes one empty wake-up later.
                var counted = true;
                while (batch.Count < _runBatch && _queue.TryDequeue(out var pending, out _))
                {
                    if (!counted)
                    {
                        _queued.Wait(0, CancellationToken.None);
                    }

                    counted = false;
                    if (!pending.Cancelled)
                    {
                        batch.Add(pending);
                    }
                }
            }

            if (batch.Count > 0)
            {
                var alone = BeginRun(batch.Count);
                try
                {
                    RunWithinBudget(batch, buffers, alone);
                }
                finally
                {
                    EndRun(alone);
                }
            }
        }
    }

    /// <summary>
    /// Registers a batch about to run. One image, with no other batch running and none waiting, runs alone on every
    /// core; while it does, other executors wait for it rather than start a batch on cores it already uses (two
    /// calls on more threads than cores both slowed down: unet_spherohq's p95 at 8 clients was 1.7 × its p50).
    /// </summary>
    /// <returns>Whether the batch runs alone.</returns>
    private bool BeginRun(int batchSize)
    {
        lock (_running)
        {
            while (_aloneRunning)
            {
                Monitor.Wait(_running);
            }

            var alone = batchSize == 1 && _model.HasLatencySession && NothingQueuedOrRunning;
            _aloneRunning = alone;
            _runningBatches++;
            return alone;
        }
    }

    private void EndRun(bool alone)
    {
        lock (_running)
        {
            _runningBatches--;
            if (alone)
            {
                _aloneRunning = false;
                Monitor.PulseAll(_running);
            }
        }
    }

    private void WaitForBatch(CancellationToken stopping)
    {
        var deadline = _time.GetTimestamp() + (long)(_options.MaxQueueDelayMs * _time.TimestampFrequency / 1000);
        while (QueueDepth < _preferredBatch && _time.GetTimestamp() < deadline && !stopping.IsCancellationRequested)
        {
            Thread.Sleep(TimeSpan.FromMilliseconds(0.5));
        }
    }

    /// <summary>Runs a batch, splitting it while it exceeds the memory budget or runs out of memory.</summary>
    private void RunWithinBudget(List<PendingImage> batch, BatchBuffers buffers, bool alone = false)
    {
        if (batch.Count > 1 && _options.MemoryBudgetBytes > 0 && batch.Count * _bytesPerImage > _options.MemoryBudgetBytes)
        {
            Split(batch, buffers, "budget");
            return;
        }

        try
        {
            Run(batch, buffers, alone);
        }
        catch (OnnxRuntimeException ex) when (batch.Count > 1 && IsOutOfMemory(ex))
        {
            LogOutOfMemorySplit(_logger, Model, batch.Count);
            Split(batch, buffers, "out_of_memory");
        }
        catch (Exception ex) when (ex is OnnxRuntimeException or InvalidOperationException or OutOfMemoryException)
        {
            foreach (var pending in batch)
            {
                pending.Completion.TrySetException(ex);
            }
        }
    }

    private void Split(List<PendingImage> batch, BatchBuffers buffers, string reason)
    {
        _telemetry.BatchSplits.Add(1, new KeyValuePair<string, object?>("model", Model), new KeyValuePair<string, object?>("reason", reason));
        var half = batch.Count / 2;
        RunWithinBudget(batch.GetRange(0, half), buffers);
        RunWithinBudget(batch.GetRange(half, batch.Count - half), buffers);
    }

    private void Run(List<PendingImage> batch, BatchBuffers buffers, bool alone)
    {
        using var activity = StartBatchActivity(batch.Count, [.. batch.SelectMany(p => LinkTo(p.Parent))]);
        var started = _time.GetTimestamp();
        for (var i = 0; i < batch.Count; i++)
        {
            batch[i].Input.AsSpan(0, _imageLength).CopyTo(buffers.Input.AsSpan(i * _imageLength));
        }

        if (alone)
        {
            _telemetry.AloneRuns.Add(1, new KeyValuePair<string, object?>("model", Model));
        }

        activity?.SetTag("cellseg.alone", alone);
        _model.Run(buffers.Input, buffers.Output, batch.Count, alone);
        var inferenceMs = RecordBatch(batch.Count, started);
        var plane = _model.OutputLength;
        var model = new KeyValuePair<string, object?>("model", Model);
        for (var i = 0; i < batch.Count; i++)
        {
            var pending = batch[i];
            var queueMs = _time.GetElapsedTime(pending.EnqueuedAt, started).TotalMilliseconds;
            _telemetry.QueueWait.Record(queueMs, model);
            // Pooled: the caller returns it once its objects are extracted.
            var probabilities = ArrayPool<float>.Shared.Rent(plane);
            buffers.Output.AsSpan(i * plane, plane).CopyTo(probabilities);
            pending.Completion.TrySetResult(new BatchResult(probabilities, batch.Count, queueMs, inferenceMs));
        }
    }

    /// <summary>A span per network call, linked to the trace of each request in it.</summary>
    private Activity? StartBatchActivity(int batchSize, ActivityLink[] links)
    {
        var activity = InferenceTelemetry.Source.StartActivity("inference.batch", ActivityKind.Internal, parentContext: default, links: links);
        activity?.SetTag("cellseg.model", Model);
        activity?.SetTag("cellseg.batch_size", batchSize);
        return activity;
    }

    private static IEnumerable<ActivityLink> LinkTo(ActivityContext parent) =>
        parent == default ? [] : [new ActivityLink(parent)];

    /// <summary>Counts a finished network call in the telemetry.</summary>
    /// <returns>Its duration in milliseconds.</returns>
    private double RecordBatch(int batchSize, long started)
    {
        var inferenceMs = _time.GetElapsedTime(started).TotalMilliseconds;
        Interlocked.Add(ref _imagesServed, batchSize);
        var model = new KeyValuePair<string, object?>("model", Model);
        _telemetry.BatchSize.Record(batchSize, model);
        _telemetry.InferenceDuration.Record(inferenceMs, model);
        return inferenceMs;
    }

    private static bool IsOutOfMemory(OnnxRuntimeException ex) =>
        ex.Message.Contains("allocate", StringComparison.OrdinalIgnoreCase)
        || ex.Message.Contains("out of memory", StringComparison.OrdinalIgnoreCase);

    public async ValueTask DisposeAsync()
    {
        await _stopping.CancelAsync();
        await Task.WhenAll(_executors);
        lock (_queue)
        {
            while (_queue.TryDequeue(out var pending, out _))
            {
                pending.Completion.TrySetCanceled();
            }
        }

        _stopping.Dispose();
        _queued.Dispose();
    }

    [LoggerMessage(Level = LogLevel.Warning, Message = "Model {Model} ran out of memory on a batch of {BatchSize}; splitting it")]
    private static partial void LogOutOfMemorySplit(ILogger logger, string model, int batchSize);

    private sealed record BatchBuffers(float[] Input, float[] Output);

    private sealed class PendingImage(float[] input, long enqueuedAt, ActivityContext parent, CancellationToken cancellationToken)
    {
        private CancellationTokenRegistration _registration;

        public float[] Input { get; } = input;
        public long EnqueuedAt { get; } = enqueuedAt;
        public ActivityContext Parent { get; } = parent;
        public TaskCompletionSource<BatchResult> Completion { get; } = new(TaskCreationOptions.RunContinuationsAsynchronously);
        public bool Cancelled => Completion.Task.IsCompleted;

        public void ListenForCancellation()
        {
            // A caller that gives up (HTTP request aborted, worker cancelled the task) leaves the queue at once;
            // the executor skips completed entries.
            _registration = cancellationToken.Register(() => Completion.TrySetCanceled(cancellationToken));
            Completion.Task.ContinueWith(_ => _registration.Dispose(), TaskScheduler.Default);
        }
    }
}
