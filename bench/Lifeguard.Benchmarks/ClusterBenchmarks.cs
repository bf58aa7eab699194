using BenchmarkDotNet.Attributes;
using Lifeguard.Testing;

namespace Lifeguard.Benchmarks;

/// <summary>
/// A cluster benchmark under BenchmarkDotNet: each benchmark process starts a RabbitMQ node of its own
/// (<see cref="ClusterBench.StartBrokerAsync"/>) before the scenario's setup, and stops it after its cleanup. The quick
/// set calls <see cref="SetupAsync"/> and <see cref="CleanupAsync"/> itself, on one node for all its scenarios.
/// </summary>
public abstract class ClusterBenchmarks
{
    private RabbitMqNode? _ownBroker;

    [GlobalSetup]
    public void Setup()
    {
        _ownBroker = ClusterBench.StartBrokerAsync().GetAwaiter().GetResult();
        SetupAsync(_ownBroker.Uri).GetAwaiter().GetResult();
    }

    [GlobalCleanup]
    public void Cleanup()
    {
        CleanupAsync().GetAwaiter().GetResult();
        ClusterBench.DisposeAllAsync(_ownBroker).GetAwaiter().GetResult();
        _ownBroker = null;
    }

    /// <summary>Starts the scenario's hosts and callers on <paramref name="broker"/>, and checks a call of each contender.</summary>
    internal abstract Task SetupAsync(Uri broker);

    /// <summary>Stops what <see cref="SetupAsync"/> started, also after a setup that failed halfway.</summary>
    internal abstract Task CleanupAsync();
}
