using System.Diagnostics;
using BenchmarkDotNet.Attributes;
using Lifeguard.Python;

namespace Lifeguard.Benchmarks;

/// <summary>
/// <c>python.replace</c>: the time from a worker's SIGKILL until its replacement is ready (started, through its
/// handshake, in the pool), in a pool of one whose <see cref="PythonPoolOptions.Preload"/> module burns 300 ms of CPU
/// at import (<c>python/slow_import.py</c>); <see cref="PythonStartMode.ForkServer"/> against the baseline
/// <c>spawn</c>, where every replacement imports it again.
/// </summary>
[BenchmarkCategory(Name)]
public class PythonReplaceBenchmarks
{
    public const string Name = "python.replace";
    public const string SlowModule = "slow_import";

    private PythonPool? _forked;
    private PythonPool? _spawned;

    [GlobalSetup]
    public void Setup() => SetupAsync().GetAwaiter().GetResult();

    [GlobalCleanup]
    public void Cleanup() => CleanupAsync().GetAwaiter().GetResult();

    [Benchmark(Description = "fork-server")]
    public Task ForkServer() => ReplaceAsync(_forked!);

    [Benchmark(Baseline = true, Description = "spawn")]
    public Task Spawn() => ReplaceAsync(_spawned!);

    internal async Task SetupAsync()
    {
        _forked = await StartAsync("bench-replace-fork", PythonStartMode.ForkServer);
        _spawned = await StartAsync("bench-replace-spawn", PythonStartMode.Spawn);
        if (_forked.ForkServer?.TemplateProcessId is null)
        {
            throw new InvalidOperationException($"{Name}: the fork server's template is not up.");
        }
    }

    internal async Task CleanupAsync()
    {
        if (_forked is not null)
        {
            await _forked.DisposeAsync();
        }

        if (_spawned is not null)
        {
            await _spawned.DisposeAsync();
        }
    }

    /// <summary>One replacement in the fork server's pool or the spawning one; returns nanoseconds.</summary>
    internal async Task<double> ReplaceNsAsync(bool forkServer)
    {
        long start = Stopwatch.GetTimestamp();
        await ReplaceAsync((forkServer ? _forked : _spawned)!);
        return PythonBench.NsSince(start);
    }

    private static async Task<PythonPool> StartAsync(string name, PythonStartMode mode)
    {
        var options = PythonBench.Options(name, 1);
        options.StartMode = mode;
        options.Preload.Add(SlowModule);
        options.MaxRestarts = 1_000_000; // every round is a death
        return await PythonPool.StartAsync(options);
    }

    /// <summary>SIGKILLs the pool's one worker and waits until its replacement is in the pool, ready.</summary>
    private static async Task ReplaceAsync(PythonPool pool)
    {
        using var events = pool.SubscribeToEvents();
        var victim = pool.GetStatus().Workers[0];
        if (await pool.KillWorkerAsync(victim.Id, "benchmark") != WorkerKillResult.Killed)
        {
            throw new InvalidOperationException($"{Name}: worker {victim.Id} was not killed.");
        }

        int? replacement = null;
        await foreach (var e in events.Reader.ReadAllAsync())
        {
            if (e.Kind == PoolEventKind.WorkerStarted && e.ProcessId != victim.ProcessId)
            {
                replacement = e.ProcessId;
                break;
            }
        }

        // The event is published as the start completes, just before the worker joins the pool: ready is listed.
        var waited = Stopwatch.StartNew();
        while (!pool.GetStatus().Workers.Any(w => w.ProcessId == replacement))
        {
            if (waited.Elapsed > TimeSpan.FromSeconds(60))
            {
                throw new InvalidOperationException($"{Name}: the replacement of worker {victim.Id} did not join the pool.");
            }

            await Task.Yield();
        }
    }
}
