using Lifeguard.Hosting.Internal;
using Microsoft.Extensions.Diagnostics.HealthChecks;

namespace Microsoft.Extensions.DependencyInjection;

/// <summary>Health checks for Lifeguard pools.</summary>
public static class LifeguardHealthChecksBuilderExtensions
{
    /// <summary>
    /// Adds one health check per pool added with <see cref="LifeguardServiceCollectionExtensions.AddLifeguard"/>
    /// (before or after this call), named <c>lifeguard:&lt;pool name&gt;</c> and tagged <c>lifeguard</c>:
    /// Healthy when a checkout is served without waiting; Degraded when the pool is Full or callers wait; Unhealthy
    /// when it is in Backoff, stopped or not running. The result's data holds the pool's status counts.
    /// Calling this more than once adds each check once.
    /// </summary>
    /// <param name="builder">The health checks builder.</param>
    /// <param name="tags">Extra tags for every check, e.g. <c>"ready"</c> to filter a readiness endpoint.</param>
    /// <returns>The same builder.</returns>
    public static IHealthChecksBuilder AddLifeguardHealthChecks(this IHealthChecksBuilder builder, params IEnumerable<string> tags)
    {
        ArgumentNullException.ThrowIfNull(builder);
        ArgumentNullException.ThrowIfNull(tags);
        builder.Services.AddLifeguard();
        var catalog = PoolCatalog.Find(builder.Services)!;
        string[] allTags = ["lifeguard", .. tags];

        // Registered as options, not at once, so that pools added after this call get their checks too.
        builder.Services.AddOptions<HealthCheckServiceOptions>().Configure(options =>
        {
            foreach (var pool in catalog.Pools)
            {
                var name = "lifeguard:" + pool.Name;
                if (!options.Registrations.Any(r => string.Equals(r.Name, name, StringComparison.Ordinal)))
                {
                    options.Registrations.Add(new HealthCheckRegistration(
                        name,
                        services => new PoolHealthCheck(pool.Name, services.GetRequiredService<Lifeguard.PoolRegistry>()),
                        failureStatus: HealthStatus.Unhealthy,
                        tags: allTags));
                }
            }
        });
        return builder;
    }
}
