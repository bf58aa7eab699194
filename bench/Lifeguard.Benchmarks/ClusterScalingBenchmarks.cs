using System.Diagnostics;
using BenchmarkDotNet.Attributes;
using Lifeguard.RabbitMQ;

namespace Lifeguard.Benchmarks;

/// <summary>
/// <c>cluster.scaling</c>: <see cref="Callers"/> concurrent callers make <see cref="CallsPerInvoke"/> calls in all of
/// <c>benchmod.nap(20)</c>, a 20 ms sleep (I/O-bound), through one <see cref="RemotePythonPool"/> to
/// <see cref="Hosts"/> hosts of <see cref="WorkersPerHost"/> workers each; the baseline <c>one-host</c> does the same
/// to one host of <see cref="WorkersPerHost"/>. Reported per call (OperationsPerInvoke), so the ratio is the inverse
/// of the throughput the two added hosts give. The hosts are <see cref="RabbitMqPoolHost"/>s in this process, each
/// with its own connection and its own pool of real python3 workers; each takes at most its capacity at once (its
/// prefetch), the rest wait in the queue. On one machine this shows that the cap adds capacity per host; it says
/// nothing of CPU-bound calls, which 2 cores cannot run 12 at a time.
/// </summary>
[BenchmarkCategory(Name)]
public class ClusterScalingBenchmarks : ClusterBenchmarks
{
    public const string Name = "cluster.scaling";
    public const string Function = "nap";
    public const int NapMs = 20;
    public const int Callers = 24;
    public const int CallsPerCaller = 25;
    public const int CallsPerInvoke = Callers * CallsPerCaller;
    public const int Hosts = 3;
    public const int WorkersPerHost = 4;
    public const string ThreeHostsPool = "bench-scaling-3";
    public const string OneHostPool = "bench-scaling-1";

    private static readonly object?[] Arguments = [NapMs];
    private readonly Task[] _tasks = new Task[Callers];
    private readonly List<ServedPool> _three = [];
    private ServedPool? _one;
    private RemotePythonPool? _threeCaller;
    private RemotePythonPool? _oneCaller;

    /// <summary>The hosts of the subject, for their calls served and peak busy.</summary>
    internal IReadOnlyList<RabbitMqPoolHost> ThreeHosts => [.. _three.Select(s => s.Host)];

    /// <summary>The baseline's host.</summary>
    internal RabbitMqPoolHost OneHost => _one!.Host;

    [Benchmark(OperationsPerInvoke = CallsPerInvoke, Description = Name)]
    public Task ThreeHostsOfFour() => RunCallers(_threeCaller!);

    [Benchmark(OperationsPerInvoke = CallsPerInvoke, Baseline = true, Description = "one-host")]
    public Task OneHostOfFour() => RunCallers(_oneCaller!);

    /// <summary>Starts the four hosts and both callers on <paramref name="broker"/>, checks one call, and runs one invocation against each.</summary>
    internal override async Task SetupAsync(Uri broker)
    {
        for (var i = 0; i < Hosts; i++)
        {
            _three.Add(await ClusterBench.ServeAsync(broker, ThreeHostsPool, WorkersPerHost, $"{ThreeHostsPool}-{(char)('a' + i)}"));
        }

        _one = await ClusterBench.ServeAsync(broker, OneHostPool, WorkersPerHost, OneHostPool);
        _threeCaller = await ClusterBench.CallerAsync(broker, ThreeHostsPool);
        _oneCaller = await ClusterBench.CallerAsync(broker, OneHostPool);
        if (await _threeCaller.CallAsync<int>(PythonBench.Module, Function, Arguments) != NapMs
            || await _oneCaller.CallAsync<int>(PythonBench.Module, Function, Arguments) != NapMs)
        {
            throw new InvalidOperationException($"{Name}: a remote pool did not return {NapMs}.");
        }

        await ThreeHostsOfFour();
        await OneHostOfFour();
    }

    /// <summary>Stops what <see cref="SetupAsync"/> started, also after a setup that failed halfway.</summary>
    internal override async Task CleanupAsync()
    {
        await ClusterBench.DisposeAllAsync([_threeCaller, _oneCaller, _one, .. _three]);
        _threeCaller = null;
        _oneCaller = null;
        _one = null;
        _three.Clear();
    }

    /// <summary>One invocation against the three hosts (or the one); returns nanoseconds per call.</summary>
    internal async Task<double> PerCallNsAsync(bool threeHosts)
    {
        long start = Stopwatch.GetTimestamp();
        await (threeHosts ? ThreeHostsOfFour() : OneHostOfFour());
        return PythonBench.NsSince(start) / CallsPerInvoke;
    }

    private Task RunCallers(RemotePythonPool pool)
    {
        for (var i = 0; i < Callers; i++)
        {
            _tasks[i] = CallerAsync(pool);
        }

        return Task.WhenAll(_tasks);
    }

    private static async Task CallerAsync(RemotePythonPool pool)
    {
        for (var i = 0; i < CallsPerCaller; i++)
        {
            await pool.CallAsync<int>(PythonBench.Module, Function, Arguments);
        }
    }
}
