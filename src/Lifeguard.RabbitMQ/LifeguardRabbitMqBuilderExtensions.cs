using Lifeguard;
using Lifeguard.Hosting;
using Lifeguard.Python;
using Lifeguard.RabbitMQ;
using Lifeguard.RabbitMQ.Internal;
using Microsoft.Extensions.Configuration;
using Microsoft.Extensions.Hosting;
using Microsoft.Extensions.Logging;
using Microsoft.Extensions.Options;

namespace Microsoft.Extensions.DependencyInjection;

/// <summary>Serves pools on RabbitMQ, and calls pools served there, from a .NET host (docs/cluster.md).</summary>
public static class LifeguardRabbitMqBuilderExtensions
{
    /// <summary>The configuration section of a served pool's <see cref="RabbitMqServeOptions"/>: <c>Lifeguard:Serve:&lt;pool&gt;</c>.</summary>
    public static string ServeSection(string poolName) => "Lifeguard:Serve:" + poolName;

    /// <summary>The configuration section of a remote pool's <see cref="RemotePythonPoolOptions"/>: <c>Lifeguard:RemotePools:&lt;name&gt;</c>.</summary>
    public static string RemotePoolSection(string name) => "Lifeguard:RemotePools:" + name;

    /// <summary>
    /// Serves the Python pool <paramref name="poolName"/>'s calls from RabbitMQ while the host runs: a hosted service
    /// starts a <see cref="RabbitMqPoolHost"/> once the pool has started, and stops it (draining its calls) before the
    /// pool stops. The options bind from <c>Lifeguard:Serve:&lt;pool&gt;</c>, then <paramref name="configure"/> runs.
    /// The pool needs <see cref="PythonPoolOptions.AllowedModules"/>. The host resolves as
    /// <c>[FromKeyedServices(poolName)] RabbitMqPoolHost</c> once started.
    /// </summary>
    /// <exception cref="InvalidOperationException">No Python pool named <paramref name="poolName"/> was added, or it is served already.</exception>
    public static LifeguardBuilder ServeOnRabbitMQ(this LifeguardBuilder builder, string poolName, Action<RabbitMqServeOptions>? configure = null)
    {
        ArgumentNullException.ThrowIfNull(builder);
        ArgumentException.ThrowIfNullOrWhiteSpace(poolName);
        var services = builder.Services;
        if (!services.Any(d => d.IsKeyedService && d.ServiceType == typeof(PythonPool) && Equals(d.ServiceKey, poolName)))
        {
            throw new InvalidOperationException($"No Python pool named '{poolName}' was added: call AddPythonPool(\"{poolName}\") before ServeOnRabbitMQ(\"{poolName}\").");
        }

        if (services.Any(d => d.IsKeyedService && d.ServiceType == typeof(ServedPool) && Equals(d.ServiceKey, poolName)))
        {
            throw new InvalidOperationException($"Pool '{poolName}' is served on RabbitMQ already.");
        }

        var options = services.AddOptions<RabbitMqServeOptions>(poolName);
        options.Configure<IServiceProvider>((o, provider) => provider.GetService<IConfiguration>()?.GetSection(ServeSection(poolName)).Bind(o));
        if (configure is not null)
        {
            options.Configure(configure);
        }

        services.AddKeyedSingleton(poolName, (provider, _) => new ServedPool(provider, poolName));
        services.AddSingleton<IHostedService>(provider => provider.GetRequiredKeyedService<ServedPool>(poolName));
        services.AddKeyedSingleton(poolName, (provider, _) => provider.GetRequiredKeyedService<ServedPool>(poolName).Host);
        return builder;
    }

    /// <summary>
    /// Adds a <see cref="RemotePythonPool"/> named <paramref name="name"/>, connected when the host starts and closed
    /// when it stops, resolvable as <c>[FromKeyedServices(name)] RemotePythonPool</c> or <see cref="IPythonCaller"/>,
    /// so that <c>AddPythonModule&lt;TInterface, TImplementation&gt;(name)</c> bindings call it. The options bind from
    /// <c>Lifeguard:RemotePools:&lt;name&gt;</c>, then <paramref name="configure"/> runs. While connected it is listed in
    /// the <see cref="PoolRegistry"/> beside the local pools, one worker per serving host, so the dashboard shows the
    /// hosts; sizing, recycling and killing it there are refused, as only its hosts can do them.
    /// </summary>
    /// <exception cref="InvalidOperationException">A Python caller named <paramref name="name"/> was already added.</exception>
    public static LifeguardBuilder AddRemotePythonPool(this LifeguardBuilder builder, string name, Action<RemotePythonPoolOptions>? configure = null)
    {
        ArgumentNullException.ThrowIfNull(builder);
        ArgumentException.ThrowIfNullOrWhiteSpace(name);
        var services = builder.Services;
        if (services.Any(d => d.IsKeyedService && d.ServiceType == typeof(IPythonCaller) && Equals(d.ServiceKey, name)))
        {
            throw new InvalidOperationException($"A Python pool named '{name}' was already added.");
        }

        var options = services.AddOptions<RemotePythonPoolOptions>(name);
        options.Configure<IServiceProvider>((o, provider) =>
        {
            provider.GetService<IConfiguration>()?.GetSection(RemotePoolSection(name)).Bind(o);
            o.Name = name;
            o.LoggerFactory ??= provider.GetService<ILoggerFactory>();
        });
        if (configure is not null)
        {
            options.Configure(configure);
        }

        services.AddKeyedSingleton(name, (provider, _) => new RemotePoolService(provider, name));
        services.AddSingleton<IHostedService>(provider => provider.GetRequiredKeyedService<RemotePoolService>(name));
        services.AddKeyedSingleton(name, (provider, _) => provider.GetRequiredKeyedService<RemotePoolService>(name).Pool);
        services.AddKeyedSingleton<IPythonCaller>(name, (provider, _) => provider.GetRequiredKeyedService<RemotePythonPool>(name));
        return builder;
    }

    /// <summary>The hosted service of one served pool.</summary>
    private sealed class ServedPool(IServiceProvider provider, string poolName) : IHostedService
    {
        private RabbitMqPoolHost? _host;

        public RabbitMqPoolHost Host => _host ?? throw new InvalidOperationException($"Pool '{poolName}' is not served yet: the host has not started.");

        public async Task StartAsync(CancellationToken cancellationToken)
        {
            var pool = provider.GetRequiredKeyedService<PythonPool>(poolName);
            var options = provider.GetRequiredService<IOptionsMonitor<RabbitMqServeOptions>>().Get(poolName);
            options.LoggerFactory ??= provider.GetService<ILoggerFactory>();
            _host = await RabbitMqPoolHost.StartAsync(pool, options, cancellationToken).ConfigureAwait(false);
        }

        public async Task StopAsync(CancellationToken cancellationToken)
        {
            if (_host is { } host)
            {
                await host.StopAsync(cancellationToken).ConfigureAwait(false);
                await host.DisposeAsync().ConfigureAwait(false);
            }
        }
    }

    /// <summary>The hosted service of one remote pool.</summary>
    private sealed class RemotePoolService(IServiceProvider provider, string name) : IHostedService
    {
        private RemotePythonPool? _pool;

        public RemotePythonPool Pool => _pool ?? throw new InvalidOperationException($"Remote Python pool '{name}' is not connected yet: the host has not started.");

        public async Task StartAsync(CancellationToken cancellationToken)
        {
            var options = provider.GetRequiredService<IOptionsMonitor<RemotePythonPoolOptions>>().Get(name);
            _pool = await RemotePythonPool.StartAsync(options, cancellationToken).ConfigureAwait(false);

            // Listed with the local pools, so the dashboard shows the remote pool and its hosts.
            provider.GetService<PoolRegistry>()?.Add(new RemotePoolView(_pool));
        }

        public async Task StopAsync(CancellationToken cancellationToken)
        {
            if (_pool is { } pool)
            {
                if (provider.GetService<PoolRegistry>() is { } registry && registry.TryGet(name, out var listed) && listed is RemotePoolView)
                {
                    await registry.StopPoolAsync(name, cancellationToken).ConfigureAwait(false);
                }

                await pool.DisposeAsync().ConfigureAwait(false);
            }
        }
    }
}
