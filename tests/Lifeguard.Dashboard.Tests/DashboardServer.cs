using Lifeguard.Testing;
using Microsoft.AspNetCore.Builder;
using Microsoft.AspNetCore.Hosting;
using Microsoft.AspNetCore.Hosting.Server;
using Microsoft.AspNetCore.Hosting.Server.Features;
using Microsoft.AspNetCore.Routing;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Logging;

namespace Lifeguard.Dashboard.Tests;

/// <summary>
/// A real ASP.NET Core application on Kestrel, 127.0.0.1 and a free port, with the dashboard mapped over a registry the
/// test owns, and a real <see cref="HttpClient"/> to it. Disposing it stops the server and then the registry's pools.
/// </summary>
public sealed class DashboardServer : IAsyncDisposable
{
    private DashboardServer(WebApplication app, PoolRegistry registry, Uri root, string prefix, RecordingLoggerProvider logs)
    {
        App = app;
        Registry = registry;
        Root = root;
        Prefix = prefix;
        Logs = logs;
        Client = new HttpClient { BaseAddress = new Uri(root, prefix.TrimEnd('/') + "/"), Timeout = TimeSpan.FromSeconds(60) };
    }

    public WebApplication App { get; }

    public PoolRegistry Registry { get; }

    /// <summary>The server's root, e.g. <c>http://127.0.0.1:40123/</c>.</summary>
    public Uri Root { get; }

    public string Prefix { get; }

    /// <summary>The dashboard's page: the prefix with a trailing '/'.</summary>
    public Uri Page => Client.BaseAddress!;

    /// <summary>Requests relative to the dashboard (<c>api/snapshot</c>, <c>events</c>).</summary>
    public HttpClient Client { get; }

    public RecordingLoggerProvider Logs { get; }

    /// <summary>The state behind the mapping (for dropping streams and counting samples).</summary>
    internal DashboardHub Hub => App.Services.GetRequiredService<EndpointDataSource>().Endpoints
        .Select(e => e.Metadata.GetMetadata<DashboardHub>())
        .First(h => h is not null)!;

    public static async Task<DashboardServer> StartAsync(
        PoolRegistry? registry = null, DashboardOptions? options = null, string prefix = "/lifeguard", Action<WebApplicationBuilder>? configure = null)
    {
        registry ??= new PoolRegistry();
        var logs = new RecordingLoggerProvider();
        var builder = WebApplication.CreateSlimBuilder();
        builder.WebHost.UseKestrel().UseUrls("http://127.0.0.1:0");
        builder.Logging.ClearProviders().SetMinimumLevel(LogLevel.Information).AddProvider(logs);
        builder.Services.AddSingleton(registry);
        configure?.Invoke(builder);
        var app = builder.Build();
        app.MapLifeguardDashboard(prefix, options);
        await app.StartAsync();
        var address = app.Services.GetRequiredService<IServer>().Features.Get<IServerAddressesFeature>()!.Addresses.First();
        return new DashboardServer(app, registry, new Uri(address.TrimEnd('/') + "/"), prefix, logs);
    }

    public async ValueTask DisposeAsync()
    {
        Client.Dispose();
        await App.StopAsync();
        await App.DisposeAsync();
        await Registry.DisposeAsync();
    }
}
