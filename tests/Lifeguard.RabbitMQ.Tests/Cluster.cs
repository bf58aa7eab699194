using Lifeguard.Python;
using Lifeguard.Testing;

namespace Lifeguard.RabbitMQ.Tests;

/// <summary>
/// One test's remote pool: a pool name of its own on the shared broker, hosts in this process (each a real
/// <see cref="PythonPool"/> of python3 workers, served by a <see cref="RabbitMqPoolHost"/>), and callers. Disposing
/// stops them all and deletes the temporary files.
/// </summary>
public sealed class Cluster(RabbitMqNode node) : IAsyncDisposable
{
    private readonly List<(RabbitMqPoolHost Host, PythonPool Pool)> _hosts = [];
    private readonly List<RemotePythonPool> _callers = [];
    private readonly string _folder = Directory.CreateTempSubdirectory("lifeguard-cluster-").FullName;

    /// <summary>A cluster on the assembly's shared broker.</summary>
    public Cluster(BrokerFixture broker)
        : this(broker.Node)
    {
    }

    public static string FixturesPath => Path.Combine(AppContext.BaseDirectory, "python");

    public string PoolName { get; } = "test-" + Guid.NewGuid().ToString("N")[..12];

    public Uri Broker => node.Uri;

    public IReadOnlyList<RabbitMqPoolHost> Hosts => [.. _hosts.Select(h => h.Host)];

    public static PythonPoolOptions PoolOptions(string name, int size = 1, int maxOverflow = 0)
    {
        var options = new PythonPoolOptions
        {
            Name = name,
            Size = size,
            MaxOverflow = maxOverflow,
            CallTimeout = TimeSpan.FromSeconds(60),
            AllowedModules = new HashSet<string>(StringComparer.Ordinal) { "cluster_fixtures" },
        };
        options.ModulePaths.Add(FixturesPath);
        options.Preload.Add("cluster_fixtures");
        return options;
    }

    public async Task<RabbitMqPoolHost> StartHostAsync(int size = 1, int maxOverflow = 0, int poisonThreshold = 3, CancellationToken cancellationToken = default)
    {
        var pool = await PythonPool.StartAsync(PoolOptions(PoolName, size, maxOverflow), cancellationToken);
        try
        {
            var host = await RabbitMqPoolHost.StartAsync(
                pool,
                new RabbitMqServeOptions
                {
                    Broker = Broker,
                    HostName = $"host-{_hosts.Count + 1}",
                    PoisonThreshold = poisonThreshold,
                    StatusInterval = TimeSpan.FromMilliseconds(200),
                    DrainTimeout = TimeSpan.FromSeconds(10),
                },
                cancellationToken);
            _hosts.Add((host, pool));
            return host;
        }
        catch
        {
            await pool.DisposeAsync();
            throw;
        }
    }

    public async Task<RemotePythonPool> StartCallerAsync(int maxQueueLength = 10_000, int maxRetries = 0, CancellationToken cancellationToken = default)
    {
        var caller = await RemotePythonPool.StartAsync(
            new RemotePythonPoolOptions
            {
                Name = PoolName,
                Broker = Broker,
                MaxQueueLength = maxQueueLength,
                MaxRetries = maxRetries,
                CallTimeout = TimeSpan.FromSeconds(60),
                CheckoutTimeout = TimeSpan.FromSeconds(30),
            },
            cancellationToken);
        _callers.Add(caller);
        return caller;
    }

    /// <summary>The messages in the pool's call queue now, as the broker counts them.</summary>
    public async Task<uint> QueuedAsync(CancellationToken cancellationToken) => await CountAsync($"lifeguard.{PoolName}.calls", cancellationToken);

    /// <summary>The messages in the pool's dead-letter queue now.</summary>
    public async Task<uint> DeadLetteredAsync(CancellationToken cancellationToken) => await CountAsync($"lifeguard.{PoolName}.dead", cancellationToken);

    private async Task<uint> CountAsync(string queue, CancellationToken cancellationToken)
    {
        var factory = new global::RabbitMQ.Client.ConnectionFactory { Uri = Broker };
        await using var connection = await factory.CreateConnectionAsync(cancellationToken);
        await using var channel = await connection.CreateChannelAsync(cancellationToken: cancellationToken);
        return (await channel.QueueDeclarePassiveAsync(queue, cancellationToken)).MessageCount;
    }

    public string TempFile() => Path.Combine(_folder, Guid.NewGuid().ToString("N") + ".txt");

    /// <summary>Polls <paramref name="condition"/> every 20 ms until it holds, or the token fires.</summary>
    public static async Task PollAsync(Func<bool> condition, CancellationToken cancellationToken)
    {
        while (!condition())
        {
            await Task.Delay(20, cancellationToken);
        }
    }

    public async ValueTask DisposeAsync()
    {
        foreach (var caller in _callers)
        {
            await caller.DisposeAsync();
        }

        foreach (var (host, pool) in _hosts)
        {
            await host.DisposeAsync();
            await pool.DisposeAsync();
        }

        Directory.Delete(_folder, recursive: true);
    }
}
