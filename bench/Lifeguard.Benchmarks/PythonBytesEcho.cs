using System.Diagnostics;
using BenchmarkDotNet.Attributes;
using Lifeguard.Python;

namespace Lifeguard.Benchmarks;

/// <summary>
/// What the bytes echo benchmarks share: one array of <paramref name="size"/> random bytes echoed by a
/// <c>benchmod</c> function through <c>CallAsync&lt;byte[]&gt;</c> on a pool of one worker (shared memory from the
/// default threshold up), and through a bare length-prefixed pipe to a minimal Python child, no JSON
/// (<see cref="PipeChild.EchoAsync"/>). Every contender hands the caller a new array.
/// </summary>
public abstract class PythonBytesEcho(string name, int size, string function, string? copyingFunction = null)
{
    private readonly byte[] _data = new byte[size];
    private object?[] _arguments = null!;
    private PythonPool _pool = null!;
    private PipeChild _raw = null!;

    [GlobalSetup]
    public void Setup() => SetupAsync().GetAwaiter().GetResult();

    [GlobalCleanup]
    public void Cleanup() => CleanupAsync().GetAwaiter().GetResult();

    /// <summary>The echo through Lifeguard.</summary>
    protected async Task<byte[]?> EchoAsync() => await _pool.CallAsync<byte[]>(PythonBench.Module, function, _arguments);

    /// <summary>The echo through a function that takes bytes, which Python copies out of shared memory.</summary>
    protected async Task<byte[]?> EchoCopyingAsync() => await _pool.CallAsync<byte[]>(PythonBench.Module, copyingFunction ?? function, _arguments);

    /// <summary>The echo through the bare pipe.</summary>
    protected async Task<byte[]?> EchoRawAsync() => await _raw.EchoAsync(_data);

    internal async Task SetupAsync()
    {
        new Random(42).NextBytes(_data);
        _arguments = [_data];
        _pool = await PythonBench.StartPoolAsync("bench-bytes", size: 1);
        _raw = await PipeChild.StartRawAsync();
        foreach (var echoed in new[] { await EchoAsync(), await EchoCopyingAsync(), await EchoRawAsync() })
        {
            if (!_data.AsSpan().SequenceEqual(echoed))
            {
                throw new InvalidOperationException($"{name}: a contender did not echo the {size} bytes unchanged.");
            }
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
    internal Task<double> MedianNsAsync(bool lifeguard, int calls) => MedianNsAsync(lifeguard ? EchoAsync : EchoRawAsync, calls);

    /// <summary>As <see cref="MedianNsAsync(bool, int)"/>, through the function that takes bytes.</summary>
    internal Task<double> MedianCopyingNsAsync(int calls) => MedianNsAsync(EchoCopyingAsync, calls);

    /// <summary>Process-wide bytes allocated per echo over <paramref name="calls"/> sequential echos.</summary>
    internal async Task<double> BytesPerCallAsync(bool lifeguard, int calls)
    {
        long before = GC.GetTotalAllocatedBytes(precise: true);
        for (var i = 0; i < calls; i++)
        {
            _ = lifeguard ? await EchoAsync() : await EchoRawAsync();
        }

        return (double)(GC.GetTotalAllocatedBytes(precise: true) - before) / calls;
    }

    private static async Task<double> MedianNsAsync(Func<Task<byte[]?>> echo, int calls)
    {
        var samples = new double[calls];
        for (var i = 0; i < calls; i++)
        {
            long start = Stopwatch.GetTimestamp();
            _ = await echo();
            samples[i] = PythonBench.NsSince(start);
        }

        return Statistics.Median(samples);
    }
}
