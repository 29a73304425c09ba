using Microsoft.EntityFrameworkCore;
using Microsoft.Extensions.Configuration;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Diagnostics.HealthChecks;
using Npgsql;
using OpenTelemetry.Trace;

namespace Microsoft.Extensions.Hosting;

/// <summary>
/// The equivalent of Aspire.Npgsql.EntityFrameworkCore.PostgreSQL's <c>AddNpgsqlDbContext</c>: a pooled DbContext over
/// an NpgsqlDataSource read from <c>ConnectionStrings:{name}</c>, retries on transient faults, Npgsql tracing and
/// a health check.
/// </summary>
public static class NpgsqlDbContextExtensions
{
    public const string ConfigurationSection = "Aspire:Npgsql:EntityFrameworkCore:PostgreSQL";

    public static IHostApplicationBuilder AddNpgsqlDbContext<TContext>(
        this IHostApplicationBuilder builder,
        string connectionName,
        Action<DbContextOptionsBuilder>? configureDbContextOptions = null)
        where TContext : DbContext
    {
        // Read when first resolved, so configuration added after registration (tests, the AppHost) is seen.
        builder.Services.AddSingleton(sp =>
        {
            var configuration = sp.GetRequiredService<IConfiguration>();
            var connectionString = configuration.GetConnectionString(connectionName)
                ?? configuration[$"{ConfigurationSection}:ConnectionString"]
                ?? throw new InvalidOperationException(
                    $"ConnectionString is missing. Set 'ConnectionStrings:{connectionName}' or '{ConfigurationSection}:ConnectionString'.");

            var csb = new NpgsqlConnectionStringBuilder(connectionString);
            // A dead database should fail a health probe in seconds, not after Npgsql's 15 s default.
            if (!connectionString.Contains("Timeout", StringComparison.OrdinalIgnoreCase))
            {
                csb.Timeout = 5;
            }

            // The services send the same few statements all day: prepared once per connection, Postgres stops
            // parsing and planning them on every call (a third of its CPU in the orchestration scenario).
            if (!connectionString.Contains("Auto Prepare", StringComparison.OrdinalIgnoreCase))
            {
                csb.MaxAutoPrepare = 64;
                csb.AutoPrepareMinUsages = 2;
            }

            return new NpgsqlDataSourceBuilder(csb.ConnectionString).Build();
        });

        builder.Services.AddDbContextPool<TContext>((sp, options) =>
        {
            options.UseNpgsql(sp.GetRequiredService<NpgsqlDataSource>(), npgsql => npgsql.EnableRetryOnFailure(maxRetryCount: 6));
            configureDbContextOptions?.Invoke(options);
        });

        builder.Services.AddOpenTelemetry().WithTracing(tracing => tracing.AddNpgsql());

        if (!builder.Configuration.GetValue<bool>($"{ConfigurationSection}:DisableHealthChecks"))
        {
            // A plain query on the data source: EF Core's CanConnect would run inside the retrying execution
            // strategy and keep a probe waiting for half a minute while the database is down.
            builder.Services.AddHealthChecks().Add(new HealthCheckRegistration(
                connectionName,
                sp => new NpgsqlDataSourceHealthCheck(sp.GetRequiredService<NpgsqlDataSource>()),
                HealthStatus.Unhealthy,
                tags: null,
                timeout: TimeSpan.FromSeconds(5)));
        }

        return builder;
    }
}
