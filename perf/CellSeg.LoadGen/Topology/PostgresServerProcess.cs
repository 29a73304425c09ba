using System.Globalization;
using Npgsql;

namespace CellSeg.LoadGen.Topology;

/// <summary>
/// A real PostgreSQL server on loopback in a folder of its own, with password authentication like the AppHost's
/// container. Postgres refuses to run as root, so as root every command runs as the <c>postgres</c> user.
/// </summary>
public sealed class PostgresServerProcess : IAsyncDisposable
{
    private const string SystemUser = "postgres";
    private readonly string _dataDirectory;
    private readonly string _socketDirectory;
    private readonly string _logFile;

    private PostgresServerProcess(string root, int port, string password)
    {
        _dataDirectory = Path.Combine(root, "data");
        _socketDirectory = Path.Combine(root, "socket");
        _logFile = Path.Combine(root, "postgres.log");
        Port = port;
        Password = password;
    }

    public int Port { get; }
    public string Password { get; }
    public bool IsRunning { get; private set; }

    /// <summary>The value of <c>ConnectionStrings__cellsegdb</c>, in the format the AppHost injects.</summary>
    public string ConnectionString(string database) =>
        $"Host=127.0.0.1;Port={Port};Username=postgres;Password={Password};Database={database}";

    /// <summary>Creates the cluster in <paramref name="root"/> when it is new, starts it and creates the databases it lacks.</summary>
    public static Task<PostgresServerProcess> StartAsync(string root, IEnumerable<string> databases, CancellationToken cancellationToken) =>
        StartAsync(root, databases, empty: false, cancellationToken);

    /// <summary>
    /// Creates the cluster in <paramref name="root"/> when it is new, starts it and creates the databases;
    /// <paramref name="empty"/> drops and creates them again, so a run starts from no data left by earlier ones.
    /// </summary>
    public static async Task<PostgresServerProcess> StartAsync(string root, IEnumerable<string> databases, bool empty, CancellationToken cancellationToken)
    {
        Directory.CreateDirectory(root);
        var passwordFile = Path.Combine(root, "password");
        if (!File.Exists(passwordFile))
        {
            await File.WriteAllTextAsync(passwordFile, Convert.ToHexString(Guid.NewGuid().ToByteArray()), cancellationToken);
        }

        var server = new PostgresServerProcess(root, FreePort.Next(), (await File.ReadAllTextAsync(passwordFile, cancellationToken)).Trim());
        Directory.CreateDirectory(server._socketDirectory);
        if (ProcessRunner.IsRoot)
        {
            await ProcessRunner.RunAsync("chown", ["-R", $"{SystemUser}:{SystemUser}", root], cancellationToken);
        }

        if (!File.Exists(Path.Combine(server._dataDirectory, "PG_VERSION")))
        {
            await RunAsPostgresAsync(
                "initdb",
                ["-D", server._dataDirectory, "-U", "postgres", $"--pwfile={passwordFile}", "--auth-host=scram-sha-256", "--auth-local=trust", "-E", "UTF8"],
                cancellationToken);
        }

        await server.StartAgainAsync(cancellationToken);
        foreach (var database in databases)
        {
            await server.EnsureDatabaseAsync(database, empty, cancellationToken);
        }

        return server;
    }

    public async Task StartAgainAsync(CancellationToken cancellationToken)
    {
        var options = string.Create(CultureInfo.InvariantCulture,
            $"-p {Port} -c listen_addresses=127.0.0.1 -c unix_socket_directories={_socketDirectory} -c max_connections=300 -c fsync=off -c synchronous_commit=off -c full_page_writes=off");
        await RunAsPostgresAsync("pg_ctl", ["start", "-w", "-t", "60", "-D", _dataDirectory, "-l", _logFile, "-o", options], cancellationToken);
        IsRunning = true;
    }

    /// <summary>Stops the server with an immediate shutdown, the closest to a crash that leaves the cluster usable.</summary>
    public async Task StopAsync(CancellationToken cancellationToken = default)
    {
        if (!IsRunning)
        {
            return;
        }

        await RunAsPostgresAsync("pg_ctl", ["stop", "-w", "-m", "immediate", "-D", _dataDirectory], cancellationToken);
        IsRunning = false;
    }

    /// <summary>
    /// A clean shutdown: the server writes out every commit first. The data folder is kept for the next run, and an
    /// immediate shutdown here would lose the last commits on this server (synchronous_commit=off), which the next
    /// run would then find as tasks still processing.
    /// </summary>
    public async ValueTask DisposeAsync()
    {
        if (!IsRunning)
        {
            return;
        }

        await RunAsPostgresAsync("pg_ctl", ["stop", "-w", "-m", "fast", "-D", _dataDirectory], CancellationToken.None);
        IsRunning = false;
    }

    private async Task EnsureDatabaseAsync(string database, bool empty, CancellationToken cancellationToken)
    {
        await using var connection = new NpgsqlConnection(ConnectionString("postgres"));
        await connection.OpenAsync(cancellationToken);
        if (empty)
        {
            await using var drop = new NpgsqlCommand($"DROP DATABASE IF EXISTS {QuoteIdentifier(database)} WITH (FORCE)", connection);
            await drop.ExecuteNonQueryAsync(cancellationToken);
        }

        await using var exists = new NpgsqlCommand("SELECT 1 FROM pg_database WHERE datname = @name", connection);
        exists.Parameters.AddWithValue("name", database);
        if (await exists.ExecuteScalarAsync(cancellationToken) is null)
        {
            await using var create = new NpgsqlCommand($"CREATE DATABASE {QuoteIdentifier(database)}", connection);
            await create.ExecuteNonQueryAsync(cancellationToken);
        }
    }

    /// <summary>Database names cannot be parameters; the names are ours, quoted as identifiers.</summary>
    private static string QuoteIdentifier(string name) => $"\"{name.Replace("\"", "\"\"", StringComparison.Ordinal)}\"";

    private static Task RunAsPostgresAsync(string tool, IReadOnlyList<string> arguments, CancellationToken cancellationToken)
    {
        var executable = ProcessRunner.Find(tool, PostgresBinFolders());
        return ProcessRunner.IsRoot
            ? ProcessRunner.RunAsync("runuser", ["-u", SystemUser, "--", executable, .. arguments], cancellationToken)
            : ProcessRunner.RunAsync(executable, arguments, cancellationToken);
    }

    private static string[] PostgresBinFolders() =>
        Directory.Exists("/usr/lib/postgresql")
            ? [.. Directory.GetDirectories("/usr/lib/postgresql").OrderDescending().Select(d => Path.Combine(d, "bin"))]
            : [];
}
