using System.Diagnostics;
using BenchmarkDotNet.Attributes;
using Lifeguard.Python;

namespace Lifeguard.Benchmarks;

/// <summary>
/// <c>python.start4</c>: <see cref="PythonPool.StartAsync"/> of a pool of four workers until it is ready (every
/// worker started and through its handshake); against <c>four-bare-starts</c>: four <c>python3 -c pass</c> started at
/// once, from the same resolved interpreter binary, until all have exited. The one-time interpreter resolution and
/// runtime deployment are paid in setup; the pool is stopped outside the measurement. <c>python.start4.fork</c>: the
/// same start with <see cref="PythonStartMode.ForkServer"/>, its template's start included.
/// </summary>
[BenchmarkCategory(Name)]
[InvocationCount(1)]
public class PythonStart4Benchmarks
{
    public const string Name = "python.start4";
    public const string ForkName = "python.start4.fork";
    public const int Workers = 4;

    private readonly Process[] _bare = new Process[Workers];
    private ProcessStartInfo _bareStart = null!;
    private PythonPool? _started;

    [GlobalSetup]
    public void Setup() => SetupAsync().GetAwaiter().GetResult();

    [IterationCleanup(Targets = [nameof(Lifeguard), nameof(ForkServer)])]
    public void StopStarted() => StopStartedAsync().GetAwaiter().GetResult();

    [Benchmark(Description = Name)]
    public async Task Lifeguard() => _started = await PythonBench.StartPoolAsync("bench-start4", Workers);

    [Benchmark(Description = ForkName)]
    public async Task ForkServer()
    {
        var options = PythonBench.Options("bench-start4-fork", Workers);
        options.StartMode = PythonStartMode.ForkServer;
        _started = await PythonPool.StartAsync(options);
    }

    [Benchmark(Baseline = true, Description = "four-bare-starts")]
    public async Task FourBareStarts()
    {
        for (var i = 0; i < Workers; i++)
        {
            _bare[i] = Process.Start(_bareStart)!;
        }

        try
        {
            for (var i = 0; i < Workers; i++)
            {
                await _bare[i].WaitForExitAsync();
            }
        }
        finally
        {
            for (var i = 0; i < Workers; i++)
            {
                _bare[i].Dispose();
            }
        }
    }

    /// <summary>Resolves the interpreter and deploys the runtime with one start, so no measurement pays for them.</summary>
    internal async Task SetupAsync()
    {
        _bareStart = new ProcessStartInfo(await PythonBench.InterpreterAsync()) { UseShellExecute = false };
        _bareStart.ArgumentList.Add("-c");
        _bareStart.ArgumentList.Add("pass");
        await Lifeguard();
        await StopStartedAsync();
        await FourBareStarts();
    }

    internal async Task StopStartedAsync()
    {
        if (_started is not null)
        {
            await _started.DisposeAsync();
            _started = null;
        }
    }

    /// <summary>One start of the pool with a fork server (stopped afterwards, untimed); returns nanoseconds.</summary>
    internal async Task<double> ForkStartNsAsync()
    {
        long start = Stopwatch.GetTimestamp();
        await ForkServer();
        double elapsed = PythonBench.NsSince(start);
        await StopStartedAsync();
        return elapsed;
    }

    /// <summary>One start of the pool (stopped afterwards, untimed) or of the bare interpreters; returns nanoseconds.</summary>
    internal async Task<double> StartNsAsync(bool lifeguard)
    {
        long start = Stopwatch.GetTimestamp();
        if (lifeguard)
        {
            await Lifeguard();
        }
        else
        {
            await FourBareStarts();
        }

        double elapsed = PythonBench.NsSince(start);
        await StopStartedAsync();
        return elapsed;
    }
}
