using System.Diagnostics;
using BenchmarkDotNet.Attributes;
using Lifeguard.RabbitMQ;

namespace Lifeguard.Benchmarks;

/// <summary>
/// <c>cluster.roundtrip</c>: one caller, sequential calls of <c>benchmod.square(7)</c> through a
/// <see cref="RemotePythonPool"/> to a <see cref="RabbitMqPoolHost"/> serving a pool of one worker (both in this
/// process, each on its own connection), against <c>raw-rpc</c>: the same broker round trip written with
/// RabbitMQ.Client alone (<see cref="RawRpc"/>), which echoes the call's body instead of running Python.
/// </summary>
[MemoryDiagnoser]
[BenchmarkCategory(Name)]
public class ClusterRoundtripBenchmarks : ClusterBenchmarks
{
    public const string Name = "cluster.roundtrip";
    public const string Pool = "bench-roundtrip";
    public const string RawQueue = "bench.raw-rpc.calls";

    private static readonly object?[] Arguments = [PythonRoundtripBenchmarks.Argument];
    private ServedPool? _served;
    private RemotePythonPool? _remote;
    private RawRpc? _raw;

    [Benchmark(Description = Name)]
    public async Task<int> Lifeguard() => await _remote!.CallAsync<int>(PythonBench.Module, PythonRoundtripBenchmarks.Function, Arguments);

    [Benchmark(Baseline = true, Description = "raw-rpc")]
    public async Task<int> RawRpcCall() => (await _raw!.CallAsync(PythonBench.Module, PythonRoundtripBenchmarks.Function, PythonRoundtripBenchmarks.Argument)).Length;

    /// <summary>
    /// The same call on the host's own pool, in this process: the Python hop inside every remote call (a reference
    /// in the quick set's rounds, for where the subject's time goes; not a benchmark of its own).
    /// </summary>
    internal async Task<int> PythonCall() => await _served!.Pool.CallAsync<int>(PythonBench.Module, PythonRoundtripBenchmarks.Function, Arguments);

    /// <summary>Starts the host (pool of 1), the caller and the raw RPC on <paramref name="broker"/>, and checks one call of each.</summary>
    internal override async Task SetupAsync(Uri broker)
    {
        _served = await ClusterBench.ServeAsync(broker, Pool, size: 1, hostName: Pool);
        _remote = await ClusterBench.CallerAsync(broker, Pool);
        _raw = await RawRpc.StartAsync(broker, RawQueue, new RemotePythonPoolOptions().MaxQueueLength);
        int expected = PythonRoundtripBenchmarks.Argument * PythonRoundtripBenchmarks.Argument;
        if (await Lifeguard() != expected)
        {
            throw new InvalidOperationException($"{Name}: the remote pool did not return {expected}.");
        }

        if (await RawRpcCall() == 0)
        {
            throw new InvalidOperationException($"{Name}: raw-rpc echoed an empty body.");
        }
    }

    /// <summary>Stops what <see cref="SetupAsync"/> started, also after a setup that failed halfway.</summary>
    internal override async Task CleanupAsync()
    {
        await ClusterBench.DisposeAllAsync(_remote, _raw, _served);
        _remote = null;
        _raw = null;
        _served = null;
    }

    /// <summary>Times <paramref name="calls"/> sequential calls one by one; returns the median nanoseconds per call.</summary>
    internal static async Task<double> MedianNsAsync(Func<Task<int>> call, int calls)
    {
        var samples = new double[calls];
        for (var i = 0; i < calls; i++)
        {
            long start = Stopwatch.GetTimestamp();
            _ = await call();
            samples[i] = PythonBench.NsSince(start);
        }

        return Statistics.Median(samples);
    }

    /// <summary>Process-wide bytes allocated per call over <paramref name="calls"/> sequential calls (the host's side, in this process, included).</summary>
    internal async Task<double> BytesPerCallAsync(bool lifeguard, int calls)
    {
        long before = GC.GetTotalAllocatedBytes(precise: true);
        for (var i = 0; i < calls; i++)
        {
            _ = lifeguard ? await Lifeguard() : await RawRpcCall();
        }

        return (double)(GC.GetTotalAllocatedBytes(precise: true) - before) / calls;
    }
}
