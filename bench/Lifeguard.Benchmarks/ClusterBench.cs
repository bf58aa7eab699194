using System.Globalization;
using Lifeguard.Python;
using Lifeguard.RabbitMQ;
using Lifeguard.Testing;

namespace Lifeguard.Benchmarks;

/// <summary>
/// What the cluster benchmarks share: their own RabbitMQ node (eng/rabbitmq.sh, through the tests'
/// <see cref="RabbitMqNode"/>), and hosts that serve a <see cref="PythonPool"/> of real python3 workers on it in this
/// process, as <c>lifeguard serve</c> does in its own.
/// </summary>
internal static class ClusterBench
{
    /// <summary>
    /// Starts a node in <c>artifacts/rabbitmq/bench-PID</c> of this checkout: private to this process, loopback only,
    /// its own ports, cookie and user; this process is its owner, so a node left by a benchmark process that died is
    /// stopped by the next start beside it. Dispose it to stop it and remove the folder.
    /// </summary>
    public static Task<RabbitMqNode> StartBrokerAsync(CancellationToken cancellationToken = default)
        => RabbitMqNode.StartAsync(
            Path.Combine(Repository.Root, "artifacts", "rabbitmq", "bench-" + Environment.ProcessId.ToString(CultureInfo.InvariantCulture)),
            cancellationToken);

    /// <summary>Starts a pool of <paramref name="size"/> workers allowed to run <c>benchmod</c> only, and a host that serves it on <paramref name="broker"/> as pool <paramref name="name"/>.</summary>
    public static async Task<ServedPool> ServeAsync(Uri broker, string name, int size, string hostName)
    {
        var options = PythonBench.Options(name, size);
        options.AllowedModules = new HashSet<string>(StringComparer.Ordinal) { PythonBench.Module };
        var pool = await PythonPool.StartAsync(options);
        try
        {
            var host = await RabbitMqPoolHost.StartAsync(pool, new RabbitMqServeOptions { Broker = broker, HostName = hostName });
            return new ServedPool(pool, host);
        }
        catch
        {
            await pool.DisposeAsync();
            throw;
        }
    }

    /// <summary>A caller of remote pool <paramref name="name"/> on <paramref name="broker"/>, with the default options.</summary>
    public static Task<RemotePythonPool> CallerAsync(Uri broker, string name)
        => RemotePythonPool.StartAsync(new RemotePythonPoolOptions { Name = name, Broker = broker });

    /// <summary>Disposes each of <paramref name="items"/> that is not null, in order.</summary>
    public static async Task DisposeAllAsync(params IAsyncDisposable?[] items)
    {
        foreach (var item in items)
        {
            if (item is not null)
            {
                await item.DisposeAsync();
            }
        }
    }
}

/// <summary>A local pool and the host that serves it; disposing stops the host (draining) and then the pool.</summary>
internal sealed class ServedPool(PythonPool pool, RabbitMqPoolHost host) : IAsyncDisposable
{
    public PythonPool Pool { get; } = pool;

    public RabbitMqPoolHost Host { get; } = host;

    public async ValueTask DisposeAsync()
    {
        await Host.DisposeAsync();
        await Pool.DisposeAsync();
    }
}
