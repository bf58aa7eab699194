using System.Diagnostics;
using BenchmarkDotNet.Attributes;
using Lifeguard.Python;

namespace Lifeguard.Benchmarks;

/// <summary>
/// <c>python.bytes1mib</c>: a 1 MiB <c>byte[]</c> echoed by <c>benchmod.echo</c> through
/// <c>CallAsync&lt;byte[]&gt;</c> (bytes travel as a frame attachment), one caller, a pool of one worker; against
/// <c>raw-pipe</c>: the same 1 MiB echoed through a bare length-prefixed pipe to a minimal Python child, no JSON
/// (<see cref="PipeChild.EchoAsync"/>). Both hand the caller a new array.
/// </summary>
[MemoryDiagnoser]
[BenchmarkCategory(Name)]
public class PythonBytes1MiBBenchmarks
{
    public const string Name = "python.bytes1mib";
    public const int Size = 1024 * 1024;

    private readonly byte[] _data = new byte[Size];
    private object?[] _arguments = null!;
    private PythonPool _pool = null!;
    private PipeChild _raw = null!;

    [GlobalSetup]
    public void Setup() => SetupAsync().GetAwaiter().GetResult();

    [GlobalCleanup]
    public void Cleanup() => CleanupAsync().GetAwaiter().GetResult();

    [Benchmark(Description = Name)]
    public async Task<byte[]?> Lifeguard() => await _pool.CallAsync<byte[]>(PythonBench.Module, "echo", _arguments);

    [Benchmark(Baseline = true, Description = "raw-pipe")]
    public async Task<byte[]> RawPipe() => await _raw.EchoAsync(_data);

    internal async Task SetupAsync()
    {
        new Random(42).NextBytes(_data);
        _arguments = [_data];
        _pool = await PythonBench.StartPoolAsync("bench-bytes", size: 1);
        _raw = await PipeChild.StartRawAsync();
        var viaLifeguard = await Lifeguard();
        var viaRawPipe = await RawPipe();
        if (!_data.AsSpan().SequenceEqual(viaLifeguard) || !_data.AsSpan().SequenceEqual(viaRawPipe))
        {
            throw new InvalidOperationException($"{Name}: a contender did not echo the {Size} bytes unchanged.");
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

        if (_raw is not null)
        {
            await _raw.DisposeAsync();
            _raw = null!;
        }
    }

    /// <summary>Times <paramref name="calls"/> sequential echoes one by one; returns the median nanoseconds per echo.</summary>
    internal async Task<double> MedianNsAsync(bool lifeguard, int calls)
    {
        var samples = new double[calls];
        for (var i = 0; i < calls; i++)
        {
            long start = Stopwatch.GetTimestamp();
            _ = lifeguard ? await Lifeguard() : await RawPipe();
            samples[i] = PythonBench.NsSince(start);
        }

        return Statistics.Median(samples);
    }

    /// <summary>Process-wide bytes allocated per echo over <paramref name="calls"/> sequential echos.</summary>
    internal async Task<double> BytesPerCallAsync(bool lifeguard, int calls)
    {
        long before = GC.GetTotalAllocatedBytes(precise: true);
        for (var i = 0; i < calls; i++)
        {
            _ = lifeguard ? await Lifeguard() : await RawPipe();
        }

        return (double)(GC.GetTotalAllocatedBytes(precise: true) - before) / calls;
    }
}
