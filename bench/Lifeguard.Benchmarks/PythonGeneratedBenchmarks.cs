using System.Diagnostics;
using BenchmarkDotNet.Attributes;
using Lifeguard.Benchmarks.Generated;
using Lifeguard.Python;

namespace Lifeguard.Benchmarks;

/// <summary>
/// <c>python.generated</c>: <c>benchmod.square(7)</c> through the bindings generated from its type hints
/// (<c>Benchmod.SquareAsync</c>, a <c>&lt;LifeguardPythonModule&gt;</c> of this project), against <c>by-name</c>: the same
/// call by its names, <c>CallAsync&lt;long&gt;("benchmod", "square", [7])</c>, as an application writes it. Both on
/// the same pool of one worker, sequential calls.
/// </summary>
[MemoryDiagnoser]
[BenchmarkCategory(Name)]
public class PythonGeneratedBenchmarks
{
    public const string Name = "python.generated";
    private const long Argument = 7;

    private PythonPool _pool = null!;
    private IBenchmod _module = null!;

    [GlobalSetup]
    public void Setup() => SetupAsync().GetAwaiter().GetResult();

    [GlobalCleanup]
    public void Cleanup() => CleanupAsync().GetAwaiter().GetResult();

    [Benchmark(Description = Name)]
    public Task<long> Generated() => _module.SquareAsync(Argument);

    [Benchmark(Baseline = true, Description = "by-name")]
    public Task<long> ByName() => _pool.CallAsync<long>(Benchmod.ModuleName, "square", [Argument]);

    internal async Task SetupAsync()
    {
        _pool = await PythonBench.StartPoolAsync("bench-generated", size: 1);
        _module = new Benchmod(_pool);
        if (await Generated() != Argument * Argument || await ByName() != Argument * Argument)
        {
            throw new InvalidOperationException($"{Name}: a contender did not return {Argument * Argument}.");
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
    }

    /// <summary>Times <paramref name="calls"/> sequential calls one by one; returns the median nanoseconds per call.</summary>
    internal async Task<double> MedianNsAsync(bool generated, int calls)
    {
        var samples = new double[calls];
        for (var i = 0; i < calls; i++)
        {
            long start = Stopwatch.GetTimestamp();
            _ = generated ? await Generated() : await ByName();
            samples[i] = PythonBench.NsSince(start);
        }

        return Statistics.Median(samples);
    }

    /// <summary>Process-wide bytes allocated per call over <paramref name="calls"/> sequential calls.</summary>
    internal async Task<double> BytesPerCallAsync(bool generated, int calls)
    {
        long before = GC.GetTotalAllocatedBytes(precise: true);
        for (var i = 0; i < calls; i++)
        {
            _ = generated ? await Generated() : await ByName();
        }

        return (double)(GC.GetTotalAllocatedBytes(precise: true) - before) / calls;
    }
}
