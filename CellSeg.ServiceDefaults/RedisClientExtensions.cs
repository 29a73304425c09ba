using Microsoft.Extensions.Configuration;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Diagnostics.HealthChecks;
using StackExchange.Redis;

namespace Microsoft.Extensions.Hosting;

/// <summary>
/// The equivalent of Aspire.StackExchange.Redis's <c>AddRedisClient</c>: the same connection name and the same
/// configuration section, so the AppHost's <c>ConnectionStrings__redis</c> reaches it unchanged.
/// </summary>
public static class RedisClientExtensions
{
    public const string ConfigurationSection = "Aspire:StackExchange:Redis";

    public static IHostApplicationBuilder AddRedisClient(this IHostApplicationBuilder builder, string connectionName)
    {
        // Read when first resolved, so configuration added after registration (tests, the AppHost) is seen.
        builder.Services.AddSingleton<IConnectionMultiplexer>(sp =>
        {
            var configuration = sp.GetRequiredService<IConfiguration>();
            var connectionString = configuration.GetConnectionString(connectionName)
                ?? configuration[$"{ConfigurationSection}:ConnectionString"]
                ?? throw new InvalidOperationException(
                    $"ConnectionString is missing. Set 'ConnectionStrings:{connectionName}' or '{ConfigurationSection}:ConnectionString'.");

            var options = ConfigurationOptions.Parse(connectionString);
            // Start and keep running while Redis is down: health turns unhealthy and the multiplexer reconnects.
            options.AbortOnConnectFail = false;
            options.ConnectRetry = Math.Max(options.ConnectRetry, 3);
            options.ClientName ??= sp.GetRequiredService<IHostEnvironment>().ApplicationName;
            // The services never block the thread pool, so Redis I/O runs on it rather than on the library's own
            // dedicated threads, which spin on a two-core machine.
            options.SocketManager ??= SocketManager.ThreadPool;
            return ConnectionMultiplexer.Connect(options);
        });

        var disableHealthChecks = builder.Configuration.GetValue<bool>($"{ConfigurationSection}:DisableHealthChecks");
        if (!disableHealthChecks)
        {
            builder.Services.AddHealthChecks().AddRedis(
                sp => sp.GetRequiredService<IConnectionMultiplexer>(),
                name: $"redis-{connectionName}",
                failureStatus: HealthStatus.Unhealthy,
                timeout: TimeSpan.FromSeconds(3));
        }

        return builder;
    }
}
