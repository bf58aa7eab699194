using Lifeguard.Testing;
using Microsoft.Extensions.Configuration;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Hosting;

namespace Lifeguard.Hosting.Tests;

/// <summary>Builds real hosts over in-memory configuration, and stops and disposes them after each test.</summary>
public abstract class HostingTestBase : IAsyncLifetime
{
    private readonly List<IHost> _hosts = [];

    protected static TimeSpan Bound { get; } = TimeSpan.FromSeconds(30);

    protected IHost Build(
        IDictionary<string, string?> configuration, Action<LifeguardBuilder> pools, Action<HostApplicationBuilder>? more = null)
    {
        var builder = Host.CreateApplicationBuilder(new HostApplicationBuilderSettings { DisableDefaults = true });
        builder.Configuration.AddInMemoryCollection(configuration);
        pools(builder.Services.AddLifeguard());
        more?.Invoke(builder);
        var host = builder.Build();
        _hosts.Add(host);
        return host;
    }

    protected IHost BuildFake(string name, FakeWorkerFactory factory, IDictionary<string, string?> configuration, Action<HostApplicationBuilder>? more = null)
        => Build(configuration, lifeguard => lifeguard.AddPool(name, _ => factory), more);

    /// <summary>Reloads configuration after setting <paramref name="values"/>, as a changed appsettings.json would.</summary>
    protected static void Reload(IHost host, IDictionary<string, string?> values)
    {
        var configuration = (IConfigurationRoot)host.Services.GetRequiredService<IConfiguration>();
        foreach (var (key, value) in values)
        {
            configuration[key] = value;
        }

        configuration.Reload();
    }

    public Task InitializeAsync() => Task.CompletedTask;

    public async Task DisposeAsync()
    {
        foreach (var host in _hosts)
        {
            using var timeout = new CancellationTokenSource(Bound);
            await host.StopAsync(timeout.Token);
            if (host is IAsyncDisposable disposable)
            {
                await disposable.DisposeAsync();
            }
            else
            {
                host.Dispose();
            }
        }
    }
}
