using CellSeg.LoadGen;
using CellSeg.LoadGen.Benchmarks;
using CellSeg.LoadGen.Quality;
using CellSeg.LoadGen.Scenarios;
using CellSeg.LoadGen.Topology;

using var cancellation = new CancellationTokenSource();
Console.CancelKeyPress += (_, e) =>
{
    // Let the scenario unwind so every process it started is stopped.
    e.Cancel = true;
    cancellation.Cancel();
};

var command = args.Length > 0 ? args[0] : "help";
var options = CommandLine.Parse(args.Skip(1));
if (options.Uri("api") is not null && (options.Number("workers", 1) != 1 || options.Number("inference", 1) != 1))
{
    Console.Error.WriteLine("--workers and --inference size the local topology this command starts; with --api it starts none.");
    return 2;
}

try
{
    return command switch
    {
        "demo" => await DemoScenario.RunAsync(
            new DemoScenario.Options(
                Users: options.Number("users", 3),
                Model: options.Text("model", "hrnet"),
                Api: options.Uri("api"),
                Folder: options.Text("folder", Path.Combine(RepositoryLayout.Root, ".local", "demo")),
                Workers: options.Number("workers", 1),
                InferenceInstances: options.Number("inference", 1)),
            cancellation.Token),
        "inference" => await InferenceScenario.RunAsync(
            new InferenceScenario.Options(
                Model: options.Text("model", "hrnet"),
                Clients: [.. options.Text("clients", "8").Split(',').Select(c => int.Parse(c, System.Globalization.CultureInfo.InvariantCulture))],
                Seconds: options.Number("seconds", 20),
                Url: options.Uri("url"),
                Folder: options.Text("folder", Path.Combine(RepositoryLayout.Root, ".local", "bench")),
                ModelSizedImages: options.Text("original-images", "false") != "true"),
            cancellation.Token),
        "e2e" or "fairness" => await QueueScenario.RunAsync(
            new QueueScenario.Options(
                Kind: command,
                Users: options.Number("users", 8),
                ImagesPerUser: options.Number("images-per-user", 50),
                Model: options.Text("model", "hrnet"),
                Api: options.Uri("api"),
                Folder: options.Text("folder", Path.Combine(RepositoryLayout.Root, ".local", command)),
                TimeoutSeconds: options.Number("timeout", 600),
                Workers: options.Number("workers", 1),
                InferenceInstances: options.Number("inference", 1),
                WarmupImages: options.Number("warmup", QueueScenario.DefaultWarmupImages)),
            cancellation.Token),
        "orchestration" => await OrchestrationScenario.RunAsync(
            new OrchestrationScenario.Options(
                Clients: options.Number("clients", 100),
                ImagesPerClient: options.Number("images-per-client", 100),
                Workers: options.Number("workers", 1),
                Folder: options.Text("folder", Path.Combine(RepositoryLayout.Root, ".local", "orchestration")),
                TimeoutSeconds: options.Number("timeout", 600),
                RequestsPerClientPerSecond: double.Parse(options.Text("rate", "2"), System.Globalization.CultureInfo.InvariantCulture),
                Seconds: options.Number("seconds", 10)),
            cancellation.Token),
        "quality" => await QualityScenario.RunAsync(QualityScenario.Options.From(options), cancellation.Token),
        _ => Usage(),
    };
}
catch (OperationCanceledException) when (cancellation.IsCancellationRequested)
{
    Console.Error.WriteLine("Cancelled; everything started was stopped.");
    return 130;
}

static int Usage()
{
    Console.WriteLine("""
        CellSeg.LoadGen <command> [--option value ...]

          demo    the demo images through the local topology by several users
                  --users 3  --model hrnet  --workers 1  --inference 1 (replicas started)
                  --api URL (use a running Api instead of starting one)
          inference  raw ONNX Runtime grid, seed mode and the dynamic batcher, over HTTP clients
                  --model hrnet  --clients 8 (or 1,4,8,16)  --seconds 20  --url URL  --original-images
          quality held-out quality of one model through the service's C# pre- and post-processing, with an Otsu baseline
                  --model hrnet  --threshold 0.5 (default: model.json)  --write (models/<name>/quality.json)  --models DIR  --heldout DIR  --threads N
          e2e     users segmenting at once through the whole topology
                  --users 8  --images-per-user 50  --model hrnet  --workers 1  --inference 1  --warmup 800 (images first, by up to 8 users, not counted)  --api URL
          orchestration  the queue alone (Inference serves the no-op model): a backlog of every image at once (resident
                  memory, drain rate), the same by batch requests with the workers running (throughput), then clients
                  asking for one image at a time at a steady pace (request latency)
                  --clients 100  --images-per-client 100  --workers 1  --rate 2 (requests per client per second)  --seconds 10
          fairness  one user with 1,000 images and seven with 10 each, against the seven alone
                  --model hrnet  --workers 1  --inference 1  --api URL
          (--workers and --inference are the QueueWorker and Inference replicas of the local topology; not with --api)
        """);
    return 2;
}
