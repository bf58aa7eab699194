using Lifeguard;
using Lifeguard.Dashboard;
using Microsoft.AspNetCore.Routing;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Hosting;
using Microsoft.Extensions.Logging;
using Microsoft.Extensions.Logging.Abstractions;

namespace Microsoft.AspNetCore.Builder;

/// <summary>Maps the Lifeguard dashboard into an ASP.NET Core application.</summary>
public static class LifeguardDashboardEndpointRouteBuilderExtensions
{
    /// <summary>
    /// Maps the dashboard under <paramref name="prefix"/>: the page (<c>GET {prefix}/</c>), its files, a JSON snapshot
    /// of every pool (<c>GET {prefix}/api/snapshot</c>), the live stream (<c>GET {prefix}/events</c>, Server-Sent
    /// Events) and, when <see cref="DashboardOptions.AllowActions"/> is on, the token-guarded actions. It shows every
    /// pool of the registry, those started later included. Endpoints are in one route group, returned, so
    /// <c>RequireAuthorization(...)</c>, <c>RequireHost(...)</c> and the like apply to all of them.
    /// </summary>
    /// <param name="endpoints">The application (or another route builder).</param>
    /// <param name="prefix">Where the dashboard lives, e.g. <c>/lifeguard</c> (the default) or <c>/ops/pools</c>; <c>""</c> for the root.</param>
    /// <param name="options">How it is served; the defaults when <see langword="null"/>. Read now; later changes have no effect.</param>
    /// <returns>The route group of the dashboard's endpoints.</returns>
    /// <exception cref="ArgumentException">The options are invalid (actions on without a token, an interval or capacity out of range), or the prefix does not start with '/'.</exception>
    /// <exception cref="InvalidOperationException">No <see cref="DashboardOptions.Registry"/> was given and no <see cref="PoolRegistry"/> is registered (call <c>services.AddLifeguard()</c>).</exception>
    public static IEndpointConventionBuilder MapLifeguardDashboard(
        this IEndpointRouteBuilder endpoints, string prefix = "/lifeguard", DashboardOptions? options = null)
    {
        ArgumentNullException.ThrowIfNull(endpoints);
        ArgumentNullException.ThrowIfNull(prefix);
        prefix = prefix.TrimEnd('/');
        if (prefix.Length > 0 && prefix[0] != '/')
        {
            throw new ArgumentException($"The dashboard's prefix must start with '/' (was '{prefix}').", nameof(prefix));
        }

        options ??= new DashboardOptions();
        DashboardOptions.Validate(options);
        var services = endpoints.ServiceProvider;
        var registry = options.Registry
            ?? services.GetService<PoolRegistry>()
            ?? throw new InvalidOperationException(
                "MapLifeguardDashboard found no PoolRegistry: register the pools with services.AddLifeguard(), or set DashboardOptions.Registry.");
        var loggerFactory = services.GetService<ILoggerFactory>() ?? NullLoggerFactory.Instance;
        var dashboard = new DashboardHub(registry, DashboardSettings.From(options), loggerFactory.CreateLogger("Lifeguard.Dashboard"));

        // The stream's clients are ended when the application stops, so that the server's shutdown does not wait for them.
        if (services.GetService<IHostApplicationLifetime>() is { } lifetime)
        {
            lifetime.ApplicationStopping.Register(static state => ((DashboardHub)state!).Dispose(), dashboard);
        }

        var group = endpoints.MapGroup(prefix);
        DashboardEndpoints.Map(group, dashboard);
        return group;
    }
}
