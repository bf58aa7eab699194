using Lifeguard.Testing;

namespace Lifeguard.Cli.Tests;

/// <summary>
/// One private RabbitMQ node for the remote-run tests, and two <c>lifeguard serve</c> hosts of <c>runremote.py</c>
/// (capacity 2 each) on a shared pool that the tests leave idle. A test that kills hosts or needs none uses a pool of its
/// own. The broker's URI reaches every process in LIFEGUARD_BROKER. Disposing kills the hosts by their pids and stops
/// the node.
/// </summary>
public sealed class RemoteRunFixture : IAsyncLifetime
{
    private readonly List<CliRun> _hosts = [];

    public RabbitMqNode Node { get; private set; } = null!;

    /// <summary>The pool of the two shared hosts.</summary>
    public string SharedPool { get; } = NewPoolName();

    /// <summary>The broker user's password, which nothing may print.</summary>
    public string Password => Node.Uri.UserInfo.Split(':', 2)[1];

    public static string ServedFile => Path.Combine(AppContext.BaseDirectory, "python", "runremote.py");

    public static string NewPoolName() => "run-" + Guid.NewGuid().ToString("N")[..12];

    public async Task InitializeAsync()
    {
        Node = await RabbitMqNode.StartAsync();
        await Task.WhenAll(ServeAsync(SharedPool, "shared-a", "--size", "2"), ServeAsync(SharedPool, "shared-b", "--size", "2"));
    }

    /// <summary>The environment of a process of these tests: the broker in LIFEGUARD_BROKER.</summary>
    public Dictionary<string, string?> Environment() => new(StringComparer.Ordinal) { ["LIFEGUARD_BROKER"] = Node.Uri.ToString() };

    /// <summary>Starts <c>lifeguard serve runremote.py --pool POOL</c>, and waits until it serves.</summary>
    public async Task<CliRun> ServeAsync(string pool, string hostName, params string[] extra)
    {
        var host = CliRun.Start(Environment(), ["serve", ServedFile, "--pool", pool, "--host-name", hostName, .. extra]);
        lock (_hosts)
        {
            _hosts.Add(host);
        }

        await Poll.UntilAsync(() => host.Stdout.Contains("serving pool", StringComparison.Ordinal) || host.HasExited, $"host {hostName} to serve");
        Assert.False(host.HasExited, $"lifeguard serve {hostName} exited: {host.Stderr}");
        return host;
    }

    /// <summary>The calls waiting in the pool's queue, not yet taken by a host, as the broker counts them.</summary>
    public async Task<uint> QueuedAsync(string pool)
    {
        var factory = new global::RabbitMQ.Client.ConnectionFactory { Uri = Node.Uri };
        await using var connection = await factory.CreateConnectionAsync();
        await using var channel = await connection.CreateChannelAsync();
        return (await channel.QueueDeclarePassiveAsync($"lifeguard.{pool}.calls")).MessageCount;
    }

    public async Task DisposeAsync()
    {
        foreach (var host in _hosts)
        {
            host.Dispose();
        }

        if (Node is not null)
        {
            await Node.DisposeAsync();
        }
    }
}

[CollectionDefinition(Name)]
public sealed class RemoteRunCollection : ICollectionFixture<RemoteRunFixture>
{
    public const string Name = "remote run";
}
