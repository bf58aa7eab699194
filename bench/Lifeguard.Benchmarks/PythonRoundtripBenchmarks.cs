using System.Diagnostics;
using System.Text.Json;
using System.Text.Json.Serialization.Metadata;
using BenchmarkDotNet.Attributes;
using Lifeguard.Python;

namespace Lifeguard.Benchmarks;

/// <summary>
/// <c>python.roundtrip</c>: one caller, sequential calls of <c>benchmod.square(7)</c> (a small argument, a small
/// result) through a <see cref="PythonPool"/> of one worker, against <c>pipe-floor</c>: the same call through the
/// least a JSON bridge must do (<see cref="PipeChild"/>). The Python-side baselines (<c>multiprocessing-apply</c>,
/// <c>processpool-submit</c>) are timed inside Python, so only the quick mode reports them.
/// </summary>
[MemoryDiagnoser]
[BenchmarkCategory(Name)]
public class PythonRoundtripBenchmarks
{
    public const string Name = "python.roundtrip";
    public const string Function = "square";
    public const int Argument = 7;

    private static readonly JsonTypeInfo<int> IntType = (JsonTypeInfo<int>)JsonSerializerOptions.Default.GetTypeInfo(typeof(int));
    private static readonly object?[] Arguments = [Argument];
    private PythonPool _pool = null!;
    private PipeChild _floor = null!;

    [GlobalSetup]
    public void Setup() => SetupAsync().GetAwaiter().GetResult();

    [GlobalCleanup]
    public void Cleanup() => CleanupAsync().GetAwaiter().GetResult();

    [Benchmark(Description = Name)]
    public async Task<int> Lifeguard() => await _pool.CallAsync<int>(PythonBench.Module, Function, Arguments);

    [Benchmark(Baseline = true, Description = "pipe-floor")]
    public async Task<int> PipeFloor() => await _floor.CallAsync(Function, Argument, IntType, IntType);

    internal async Task SetupAsync()
    {
        _pool = await PythonBench.StartPoolAsync("bench-roundtrip", size: 1);
        _floor = await PipeChild.StartJsonAsync();
        int expected = Argument * Argument;
        if (await Lifeguard() != expected || await PipeFloor() != expected)
        {
            throw new InvalidOperationException($"{Name}: a contender did not return {expected}.");
        }
    }

    /// <summary>Stops what <see cref="SetupAsync"/> started, also after a setup that failed halfway.</summary>
    internal async Task CleanupAsync()
    {
        if (_pool is not null)
        {
            await _pool.DisposeAsync();
            _pool = null!;
        }

        if (_floor is not null)
        {
            await _floor.DisposeAsync();
            _floor = null!;
        }
    }

    /// <summary>Times <paramref name="calls"/> sequential calls one by one; returns the median nanoseconds per call.</summary>
    internal async Task<double> MedianNsAsync(bool lifeguard, int calls)
    {
        var samples = new double[calls];
        for (var i = 0; i < calls; i++)
        {
            long start = Stopwatch.GetTimestamp();
            _ = lifeguard ? await Lifeguard() : await PipeFloor();
            samples[i] = PythonBench.NsSince(start);
        }

        return Statistics.Median(samples);
    }

    /// <summary>Process-wide bytes allocated per call over <paramref name="calls"/> sequential calls.</summary>
    internal async Task<double> BytesPerCallAsync(bool lifeguard, int calls)
    {
        long before = GC.GetTotalAllocatedBytes(precise: true);
        for (var i = 0; i < calls; i++)
        {
            _ = lifeguard ? await Lifeguard() : await PipeFloor();
        }

        return (double)(GC.GetTotalAllocatedBytes(precise: true) - before) / calls;
    }
}
