using Lifeguard.Hosting;
using Lifeguard.Python;
using Microsoft.Extensions.Configuration;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Hosting;

namespace Lifeguard.RabbitMQ.Tests;

/// <summary>
/// The hosting extensions end to end: one generic host serves a pool with <c>ServeOnRabbitMQ</c> (its options from
/// configuration), another calls it with <c>AddRemotePythonPool</c>, and the caller's <see cref="PoolRegistry"/> lists
/// the remote pool with its hosts, as the dashboard reads them.
/// </summary>
[Collection(BrokerCollection.Name)]
public sealed class HostingTests(BrokerFixture broker) : IAsyncLifetime
{
    private static readonly TimeSpan Bound = TimeSpan.FromSeconds(90);
    private readonly Cluster _cluster = new(broker);
    private readonly List<IHost> _hosts = [];

    public Task InitializeAsync() => Task.CompletedTask;

    public async Task DisposeAsync()
    {
        foreach (var host in _hosts)
        {
            using var timeout = new CancellationTokenSource(Bound);
            await host.StopAsync(timeout.Token);
            host.Dispose();
        }

        await _cluster.DisposeAsync();
    }

    [Fact]
    public async Task ServeAndCall_ThroughHosting_TheCallerRegistryListsTheRemotePoolWithItsHosts_AndRefusesResizing()
    {
        using var timeout = new CancellationTokenSource(Bound);
        var ct = timeout.Token;
        var name = _cluster.PoolName;
        var server = Build(
            new Dictionary<string, string?>
            {
                [LifeguardRabbitMqBuilderExtensions.ServeSection(name) + ":Broker"] = _cluster.Broker.ToString(),
                [LifeguardRabbitMqBuilderExtensions.ServeSection(name) + ":HostName"] = "served-by-hosting",
                [LifeguardRabbitMqBuilderExtensions.ServeSection(name) + ":StatusInterval"] = "00:00:00.2",
            },
            lifeguard => lifeguard
                .AddPythonPool(name, o =>
                {
                    var defaults = Cluster.PoolOptions(name, size: 2);
                    o.Size = defaults.Size;
                    o.AllowedModules = defaults.AllowedModules;
                    foreach (var path in defaults.ModulePaths)
                    {
                        o.ModulePaths.Add(path);
                    }

                    o.Preload.Add("cluster_fixtures");
                })
                .ServeOnRabbitMQ(name));
        var client = Build(
            new Dictionary<string, string?> { [LifeguardRabbitMqBuilderExtensions.RemotePoolSection(name) + ":Broker"] = _cluster.Broker.ToString() },
            lifeguard => lifeguard.AddRemotePythonPool(name));
        await server.StartAsync(ct);
        await client.StartAsync(ct);

        var caller = client.Services.GetRequiredKeyedService<IPythonCaller>(name);
        Assert.Equal(49, await caller.CallAsync<int>("cluster_fixtures", "square", [7], cancellationToken: ct));
        Assert.Same(client.Services.GetRequiredKeyedService<RemotePythonPool>(name), caller);

        var registry = client.Services.GetRequiredService<PoolRegistry>();
        Assert.True(registry.TryGet(name, out var listed));
        await Cluster.PollAsync(() => listed.GetStatus().Workers.Count == 1 && listed.GetStatus().Workers[0].Uses == 1, ct);
        var row = listed.GetStatus().Workers[0];
        Assert.Equal("served-by-hosting", row.Details["host"]);
        Assert.Equal(2, row.Details["capacity"]);
        Assert.Equal(2, listed.GetStatus().Size);
        Assert.Contains("only its hosts", Assert.Throws<NotSupportedException>(() => listed.Resize(4, 0)).Message, StringComparison.Ordinal);
        Assert.Throws<NotSupportedException>(() => listed.RecycleAll());
        await Assert.ThrowsAsync<NotSupportedException>(() => listed.KillWorkerAsync(row.Id, cancellationToken: ct));

        // Stopping the caller's host unlists the remote pool; the served pool is untouched by it.
        await client.StopAsync(ct);
        Assert.False(registry.TryGet(name, out _));
        Assert.Equal(2, server.Services.GetRequiredKeyedService<PythonPool>(name).GetStatus().Size);
    }

    private IHost Build(IDictionary<string, string?> configuration, Action<LifeguardBuilder> pools)
    {
        var builder = Host.CreateApplicationBuilder(new HostApplicationBuilderSettings { DisableDefaults = true });
        builder.Configuration.AddInMemoryCollection(configuration);
        pools(builder.Services.AddLifeguard());
        var host = builder.Build();
        _hosts.Add(host);
        return host;
    }
}
