using System.Diagnostics;
using BenchmarkDotNet.Attributes;
using Lifeguard.Python;

namespace Lifeguard.Benchmarks;

/// <summary>
/// <c>python.stream</c>: <see cref="Items"/> small items (the ints 0 .. n-1) from one generator,
/// <c>benchmod.count(n)</c>, read with <see cref="PythonPool.StreamAsync{T}(string, string, IReadOnlyList{object?}?, IReadOnlyDictionary{string, object?}?, PythonCallOptions?, CancellationToken)"/>
/// at the default window, against <c>calls</c>: as many sequential calls of <c>benchmod.square(7)</c>, the way to
/// get as many values without streams. Both on the same pool of one worker; reported per item. <c>window-256</c> is the
/// same stream with <see cref="PythonCallOptions.StreamWindow"/> 256, where small items are cheaper (fewer pauses for
/// credit).
/// </summary>
[MemoryDiagnoser]
[BenchmarkCategory(Name)]
public class PythonStreamBenchmarks
{
    public const string Name = "python.stream";
    public const int Items = 10_000;

    private static readonly object?[] CountArguments = [Items];
    private static readonly object?[] SquareArguments = [PythonRoundtripBenchmarks.Argument];
    private static readonly PythonCallOptions Window256 = new() { StreamWindow = 256 };
    private PythonPool _pool = null!;

    [GlobalSetup]
    public void Setup() => SetupAsync().GetAwaiter().GetResult();

    [GlobalCleanup]
    public void Cleanup() => CleanupAsync().GetAwaiter().GetResult();

    [Benchmark(Description = Name, OperationsPerInvoke = Items)]
    public Task<long> Stream() => SumAsync(options: null);

    [Benchmark(Description = "window-256", OperationsPerInvoke = Items)]
    public Task<long> StreamWindow256() => SumAsync(Window256);

    [Benchmark(Baseline = true, Description = "calls", OperationsPerInvoke = Items)]
    public async Task<long> Calls()
    {
        long sum = 0;
        for (var i = 0; i < Items; i++)
        {
            sum += await _pool.CallAsync<long>(PythonBench.Module, PythonRoundtripBenchmarks.Function, SquareArguments);
        }

        return sum;
    }

    private async Task<long> SumAsync(PythonCallOptions? options)
    {
        long sum = 0;
        await foreach (long item in _pool.StreamAsync<long>(PythonBench.Module, "count", CountArguments, options: options))
        {
            sum += item;
        }

        return sum;
    }

    internal async Task SetupAsync()
    {
        _pool = await PythonBench.StartPoolAsync("bench-stream", size: 1);
        long expected = (long)Items * (Items - 1) / 2;
        if (await Stream() != expected || await StreamWindow256() != expected)
        {
            throw new InvalidOperationException($"{Name}: the stream did not yield 0 .. {Items - 1}.");
        }

        if (await Calls() != (long)Items * PythonRoundtripBenchmarks.Argument * PythonRoundtripBenchmarks.Argument)
        {
            throw new InvalidOperationException($"{Name}: a call did not return {PythonRoundtripBenchmarks.Argument * PythonRoundtripBenchmarks.Argument}.");
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

    /// <summary>One stream of <see cref="Items"/> items (at the default window, or 256), or as many calls; returns the nanoseconds per item.</summary>
    internal async Task<double> PerItemNsAsync(bool stream, int window = 0)
    {
        long start = Stopwatch.GetTimestamp();
        _ = !stream ? await Calls() : window == 256 ? await StreamWindow256() : await Stream();
        return PythonBench.NsSince(start) / Items;
    }
}
