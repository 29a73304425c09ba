using System.Diagnostics;
using System.Net.Sockets;

namespace CellSeg.LoadGen.Topology;

/// <summary>A real redis-server on loopback, password-protected like the AppHost's container, without persistence.</summary>
public sealed class RedisServerProcess : IAsyncDisposable
{
    private readonly string _executable;
    private readonly string _directory;
    private Process? _process;

    private RedisServerProcess(string executable, string directory, int port, string password)
    {
        _executable = executable;
        _directory = directory;
        Port = port;
        Password = password;
    }

    public int Port { get; }
    public string Password { get; }

    /// <summary>The value of <c>ConnectionStrings__redis</c>, in the format the AppHost injects.</summary>
    public string ConnectionString => $"127.0.0.1:{Port},password={Password}";

    public static async Task<RedisServerProcess> StartAsync(string directory, CancellationToken cancellationToken)
    {
        Directory.CreateDirectory(directory);
        var server = new RedisServerProcess(
            ProcessRunner.Find("redis-server", "/usr/bin", "/usr/local/bin"),
            directory,
            FreePort.Next(),
            Convert.ToHexString(Guid.NewGuid().ToByteArray()));
        await server.StartAgainAsync(cancellationToken);
        return server;
    }

    /// <summary>Starts the server (again) on the same port with the same password.</summary>
    public async Task StartAgainAsync(CancellationToken cancellationToken)
    {
        var startInfo = new ProcessStartInfo(_executable)
        {
            UseShellExecute = false,
            RedirectStandardOutput = true,
            RedirectStandardError = true,
            WorkingDirectory = _directory,
        };
        foreach (var argument in new[]
        {
            "--port", Port.ToString(System.Globalization.CultureInfo.InvariantCulture),
            "--bind", "127.0.0.1",
            "--requirepass", Password,
            "--save", "",
            "--appendonly", "no",
            "--dir", _directory,
            "--logfile", Path.Combine(_directory, "redis.log"),
        })
        {
            startInfo.ArgumentList.Add(argument);
        }

        _process = Process.Start(startInfo) ?? throw new InvalidOperationException("Could not start redis-server.");
        await WaitForPortAsync(Port, TimeSpan.FromSeconds(15), () => _process.HasExited, cancellationToken);
    }

    /// <summary>Kills the server at once, as a crash would.</summary>
    public async Task StopAsync()
    {
        if (_process is { HasExited: false } process)
        {
            process.Kill(entireProcessTree: true);
            await process.WaitForExitAsync();
        }
    }

    public async ValueTask DisposeAsync()
    {
        await StopAsync();
        _process?.Dispose();
    }

    internal static async Task WaitForPortAsync(int port, TimeSpan timeout, Func<bool> hasExited, CancellationToken cancellationToken)
    {
        var deadline = Stopwatch.StartNew();
        while (deadline.Elapsed < timeout)
        {
            if (hasExited())
            {
                throw new InvalidOperationException($"The server meant for port {port} exited while starting.");
            }

            try
            {
                using var client = new TcpClient();
                await client.ConnectAsync("127.0.0.1", port, cancellationToken);
                return;
            }
            catch (SocketException)
            {
                await Task.Delay(50, cancellationToken);
            }
        }

        throw new TimeoutException($"Nothing listened on port {port} within {timeout.TotalSeconds} s.");
    }
}
