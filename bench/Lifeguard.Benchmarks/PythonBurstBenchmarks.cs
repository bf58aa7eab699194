using System.Diagnostics;
using BenchmarkDotNet.Attributes;
using Lifeguard.Python;

namespace Lifeguard.Benchmarks;

/// <summary>
/// <c>python.burst</c>: <see cref="Callers"/> concurrent callers send <see cref="Calls"/> calls of a trivial function
/// (<c>square</c>) through a fresh pool of Size 2 + MaxOverflow 1, against <c>no-overflow</c>: a fresh pool of Size 2.
/// A pool whose overflow churns (a worker checked in while a start is in flight dismissed, then started again) shows
/// here as a ratio far above 1 and as starts far above the cap. Each pool is started and stopped outside the
/// measurement; both use <see cref="PythonPoolOptions"/>' defaults otherwise.
/// </summary>
[BenchmarkCategory(Name)]
[InvocationCount(1)]
public class PythonBurstBenchmarks
{
    public const string Name = "python.burst";
    public const int Callers = 16;
    public const int Calls = 3000;

    private PythonPool? _pool;

    /// <summary>Starts made by the pool of the last burst (the initial fill's included).</summary>
    public long LastStarts { get; private set; }

    [IterationSetup(Target = nameof(Overflow))]
    public void SetupOverflow() => _pool = StartAsync(maxOverflow: 1).GetAwaiter().GetResult();

    [IterationSetup(Target = nameof(NoOverflow))]
    public void SetupNoOverflow() => _pool = StartAsync(maxOverflow: 0).GetAwaiter().GetResult();

    [IterationCleanup]
    public void Cleanup() => StopAsync().GetAwaiter().GetResult();

    [Benchmark(Description = Name)]
    public Task Overflow() => BurstAsync(_pool!);

    [Benchmark(Baseline = true, Description = "no-overflow")]
    public Task NoOverflow() => BurstAsync(_pool!);

    /// <summary>One burst on a fresh pool (started and stopped untimed); returns nanoseconds per call.</summary>
    internal async Task<double> PerCallNsAsync(bool overflow, PythonStartMode mode = PythonStartMode.Spawn)
    {
        _pool = await StartAsync(overflow ? 1 : 0, mode);
        try
        {
            long start = Stopwatch.GetTimestamp();
            await BurstAsync(_pool);
            return PythonBench.NsSince(start) / Calls;
        }
        finally
        {
            await StopAsync();
        }
    }

    private static Task<PythonPool> StartAsync(int maxOverflow, PythonStartMode mode = PythonStartMode.Spawn)
    {
        var options = PythonBench.Options(maxOverflow == 0 ? "bench-burst-base" : "bench-burst", size: 2);
        options.MaxOverflow = maxOverflow; // OverflowIdleTimeout stays the Python default, as users get it
        options.StartMode = mode;
        return PythonPool.StartAsync(options);
    }

    private static async Task BurstAsync(PythonPool pool)
    {
        int next = -1;
        var callers = new Task[Callers];
        for (int c = 0; c < Callers; c++)
        {
            callers[c] = Task.Run(async () =>
            {
                while (Interlocked.Increment(ref next) < Calls)
                {
                    await pool.CallAsync<int>(PythonBench.Module, "square", [7]);
                }
            });
        }

        await Task.WhenAll(callers);
    }

    private async Task StopAsync()
    {
        if (_pool is not null)
        {
            LastStarts = _pool.GetStatus().TotalStarts;
            await _pool.DisposeAsync();
            _pool = null;
        }
    }
}
