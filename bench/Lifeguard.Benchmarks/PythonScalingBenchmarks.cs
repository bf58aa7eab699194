using System.Diagnostics;
using BenchmarkDotNet.Attributes;
using Lifeguard.Python;

namespace Lifeguard.Benchmarks;

/// <summary>
/// <c>python.scaling</c>: <see cref="Callers"/> concurrent callers make <see cref="CallsPerInvoke"/> calls in all of
/// <c>benchmod.burn(n)</c>, pure-Python CPU work of about 2 ms, through a pool of two workers; the
/// baseline <c>one-worker</c> does the same through a pool of one. Reported per call (OperationsPerInvoke), so the
/// ratio is the inverse of the throughput gained by the second worker. <c>processpool-2</c>
/// (<c>ProcessPoolExecutor(2)</c>) is timed inside Python: quick mode only.
/// </summary>
[BenchmarkCategory(Name)]
public class PythonScalingBenchmarks
{
    public const string Name = "python.scaling";
    public const string Function = "burn";
    public const int Callers = 4;
    public const int CallsPerCaller = 24;
    public const int CallsPerInvoke = Callers * CallsPerCaller;
    public const long TargetNsPerCall = 2_000_000;

    /// <summary>
    /// The <c>n</c> of <c>burn(n)</c> under BenchmarkDotNet: about 2 ms with CPython 3.11 on the reference machine.
    /// Fixed, because BenchmarkDotNet runs the subject and the baseline in separate processes, which must do the same work.
    /// </summary>
    public const int DefaultIterations = 48_000;

    private readonly Task[] _tasks = new Task[Callers];
    private PythonPool _two = null!;
    private PythonPool _one = null!;
    private object?[] _arguments = null!;

    /// <summary>The <c>n</c> of <c>burn(n)</c>: <see cref="DefaultIterations"/>, or calibrated at setup to take about 2 ms.</summary>
    public int Iterations { get; private set; } = DefaultIterations;

    [GlobalSetup]
    public void Setup() => SetupAsync(calibrate: false).GetAwaiter().GetResult();

    [GlobalCleanup]
    public void Cleanup() => CleanupAsync().GetAwaiter().GetResult();

    [Benchmark(OperationsPerInvoke = CallsPerInvoke, Description = Name)]
    public Task TwoWorkers() => RunCallers(_two);

    [Benchmark(OperationsPerInvoke = CallsPerInvoke, Baseline = true, Description = "one-worker")]
    public Task OneWorker() => RunCallers(_one);

    /// <summary>
    /// Starts both pools; with <paramref name="calibrate"/>, sets <see cref="Iterations"/> to the median of a few
    /// calibrations in a worker (each itself a median of timed runs of <c>burn</c>).
    /// </summary>
    internal async Task SetupAsync(bool calibrate)
    {
        _two = await PythonBench.StartPoolAsync("bench-scaling-2", size: 2);
        _one = await PythonBench.StartPoolAsync("bench-scaling-1", size: 1);
        if (calibrate)
        {
            var calibrations = new List<double>();
            for (var i = 0; i < 5; i++)
            {
                calibrations.Add(await _one.CallAsync<int>(PythonBench.Module, "calibrate", [TargetNsPerCall]));
            }

            Iterations = (int)Statistics.Median(calibrations);
        }

        _arguments = [Iterations];
        await RunCallers(_two);
        await RunCallers(_one);
    }

    /// <summary>Stops what <see cref="SetupAsync"/> started, also after a setup that failed halfway.</summary>
    internal async Task CleanupAsync()
    {
        if (_two is not null)
        {
            await _two.DisposeAsync();
            _two = null!;
        }

        if (_one is not null)
        {
            await _one.DisposeAsync();
            _one = null!;
        }
    }

    /// <summary>One invocation against the pool of two workers (or of one); returns nanoseconds per call.</summary>
    internal async Task<double> PerCallNsAsync(bool twoWorkers)
    {
        long start = Stopwatch.GetTimestamp();
        await RunCallers(twoWorkers ? _two : _one);
        return PythonBench.NsSince(start) / CallsPerInvoke;
    }

    private Task RunCallers(PythonPool pool)
    {
        for (var i = 0; i < Callers; i++)
        {
            _tasks[i] = CallerAsync(pool);
        }

        return Task.WhenAll(_tasks);
    }

    private async Task CallerAsync(PythonPool pool)
    {
        for (var i = 0; i < CallsPerCaller; i++)
        {
            await pool.CallAsync<int>(PythonBench.Module, Function, _arguments);
        }
    }
}
