using System.Diagnostics;

namespace CellSeg.LoadGen.Topology;

/// <summary>One CellSeg service started from its build output with the environment the AppHost would inject.</summary>
public sealed class ServiceProcess : IAsyncDisposable
{
    private readonly ProcessStartInfo _startInfo;
    private readonly string _logFile;
    private Process? _process;
    private StreamWriter? _log;

    private ServiceProcess(string name, ProcessStartInfo startInfo, Uri url, string logFile)
    {
        Name = name;
        _startInfo = startInfo;
        Url = url;
        _logFile = logFile;
    }

    public string Name { get; }
    public Uri Url { get; }

    /// <summary>The running process's id; null before it starts and after it ends.</summary>
    public int? ProcessId => _process is { HasExited: false } process ? process.Id : null;

    /// <summary>Prepares <paramref name="project"/> (e.g. <c>CellSeg.Api</c>) to run on a free loopback port.</summary>
    /// <param name="niceness">Above 0: runs the service under <c>nice</c>, so that it gets the CPU only after processes of normal priority.</param>
    public static ServiceProcess Create(string name, string project, IReadOnlyDictionary<string, string> environment, string logFolder, int niceness = 0)
    {
        var assembly = RepositoryLayout.ServiceAssembly(project);
        if (!File.Exists(assembly))
        {
            throw new FileNotFoundException($"{assembly} is not built. Build the solution filter CellSeg.Local.slnf first.", assembly);
        }

        var url = new Uri($"http://127.0.0.1:{FreePort.Next()}");
        var startInfo = new ProcessStartInfo(niceness > 0 ? "nice" : "dotnet")
        {
            UseShellExecute = false,
            RedirectStandardOutput = true,
            RedirectStandardError = true,
            WorkingDirectory = Path.GetDirectoryName(assembly)!,
        };
        if (niceness > 0)
        {
            // nice execs dotnet in its own process, so the process id stays the service's.
            startInfo.ArgumentList.Add("-n");
            startInfo.ArgumentList.Add(niceness.ToString(System.Globalization.CultureInfo.InvariantCulture));
            startInfo.ArgumentList.Add("dotnet");
        }

        startInfo.ArgumentList.Add(assembly);
        startInfo.Environment["ASPNETCORE_URLS"] = url.ToString();
        startInfo.Environment["ASPNETCORE_ENVIRONMENT"] = "Production";
        startInfo.Environment["DOTNET_ENVIRONMENT"] = "Production";
        startInfo.Environment["Logging__Console__FormatterName"] = "simple";
        foreach (var (key, value) in environment)
        {
            startInfo.Environment[key] = value;
        }

        Directory.CreateDirectory(logFolder);
        return new ServiceProcess(name, startInfo, url, Path.Combine(logFolder, $"{name}.log"));
    }

    /// <summary>Starts the service, or starts it again on the same port after it stopped or was killed.</summary>
    public void Start()
    {
        _log ??= new StreamWriter(_logFile, append: true) { AutoFlush = true };
        _process?.Dispose();
        _process = Process.Start(_startInfo) ?? throw new InvalidOperationException($"Could not start {Name}.");
        var log = _log;
        _process.OutputDataReceived += (_, e) => Write(log, e.Data);
        _process.ErrorDataReceived += (_, e) => Write(log, e.Data);
        _process.BeginOutputReadLine();
        _process.BeginErrorReadLine();
    }

    /// <summary>Waits until <c>/health</c> answers 200; fails early if the process exits.</summary>
    public async Task WaitHealthyAsync(HttpClient http, TimeSpan timeout, CancellationToken cancellationToken)
    {
        var clock = Stopwatch.StartNew();
        string last = "no answer";
        while (clock.Elapsed < timeout)
        {
            if (_process is null || _process.HasExited)
            {
                throw new InvalidOperationException($"{Name} exited while starting; see {_logFile}.");
            }

            try
            {
                using var response = await http.GetAsync(new Uri(Url, "/health"), cancellationToken);
                if (response.IsSuccessStatusCode)
                {
                    return;
                }

                last = $"{(int)response.StatusCode}: {await response.Content.ReadAsStringAsync(cancellationToken)}";
            }
            catch (HttpRequestException ex)
            {
                last = ex.Message;
            }

            await Task.Delay(200, cancellationToken);
        }

        throw new TimeoutException($"{Name} was not healthy within {timeout.TotalSeconds} s ({last}); see {_logFile}.");
    }

    /// <summary>Waits for the process to end by itself (a one-shot run) and returns its exit code.</summary>
    public async Task<int> WaitForExitAsync(TimeSpan timeout)
    {
        var process = _process ?? throw new InvalidOperationException($"{Name} was never started.");
        using var cancellation = new CancellationTokenSource(timeout);
        await process.WaitForExitAsync(cancellation.Token);
        return process.ExitCode;
    }

    /// <summary>SIGKILL: the process dies at once, as in a crash.</summary>
    public async Task KillAsync()
    {
        if (_process is { HasExited: false } process)
        {
            process.Kill(entireProcessTree: true);
            await process.WaitForExitAsync();
        }
    }

    /// <summary>Asks the service to shut down (SIGTERM) and kills it if it does not within the grace period.</summary>
    public async Task StopAsync(TimeSpan grace)
    {
        if (_process is not { HasExited: false } process)
        {
            return;
        }

        using var kill = Process.Start("kill", ["-TERM", process.Id.ToString(System.Globalization.CultureInfo.InvariantCulture)]);
        using var timeout = new CancellationTokenSource(grace);
        try
        {
            await process.WaitForExitAsync(timeout.Token);
        }
        catch (OperationCanceledException)
        {
            await KillAsync();
        }
    }

    public async ValueTask DisposeAsync()
    {
        await StopAsync(TimeSpan.FromSeconds(10));
        _process?.Dispose();
        if (_log is not null)
        {
            await _log.DisposeAsync();
        }
    }

    private static void Write(StreamWriter log, string? line)
    {
        if (line is null)
        {
            return;
        }

        lock (log)
        {
            log.WriteLine(line);
        }
    }
}
