using CellSeg.LoadGen;
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

try
{
    return command switch
    {
        "demo" => await DemoScenario.RunAsync(
            new DemoScenario.Options(
                Users: options.Number("users", 3),
                Model: options.Text("model", "hrnet"),
                Api: options.Uri("api"),
                Folder: options.Text("folder", Path.Combine(RepositoryLayout.Root, ".local", "demo"))),
            cancellation.Token),
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
                  --users 3  --model hrnet  --api URL (use a running Api instead of starting one)
        """);
    return 2;
}
