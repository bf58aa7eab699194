using System.CommandLine;
using System.Diagnostics;
using System.Globalization;
using System.Runtime.InteropServices;
using System.Text.Json;
using Lifeguard.Python;

namespace Lifeguard.Cli;

/// <summary>
/// <c>lifeguard demo</c>: the seeds' scenarios on bundled Python samples, with the pool shown live, a worker killed
/// midway and replaced with no input lost, and sizing advice from what was measured. Stateless.
/// </summary>
internal static class DemoCommand
{
    private const int ArrivalsPerSecond = 80;
    private static readonly CultureInfo C = CultureInfo.InvariantCulture;

    public static Command Create(TextWriter output, TextWriter error)
    {
        var dashboard = new DashboardArguments("through the demo and after it, until Ctrl-C");
        var command = new Command(
            "demo",
            "Run the bundled demo: a slow square through a pool of 5 bursting to 7, then a delivery-stacking optimiser over a bundled\n"
                + "JSON Lines file with one worker killed midway, then sizing advice from what was measured. Under 30 s.\n"
                + "With --dashboard, both pools are on a live page whose address is printed on stderr, and they stay up after the\n"
                + "demo, to be looked at (and, with --dashboard-actions, acted on), until Ctrl-C.\n\n"
                + "Examples:\n"
                + "  lifeguard demo\n"
                + "  lifeguard demo --dashboard");
        dashboard.AddTo(command);
        command.SetAction(async (parse, cancellationToken) =>
        {
            var request = dashboard.Get(parse);
            using var signals = new DemoSignals(cancellationToken);
            try
            {
                return request is null
                    ? await RunAsync(output, registry: null, signals.Token).ConfigureAwait(false)
                    : await WithDashboardAsync(output, error, request, signals).ConfigureAwait(false);
            }
            catch (OperationCanceledException) when (signals.ExitCode != 0)
            {
                await error.WriteLineAsync("lifeguard demo: interrupted; its pools are stopped.").ConfigureAwait(false);
                return signals.ExitCode;
            }
        });
        return command;
    }

    /// <summary>The demo with its pools in a registry on the dashboard, kept up after it until Ctrl-C (or SIGTERM).</summary>
    private static async Task<int> WithDashboardAsync(TextWriter output, TextWriter error, DashboardRequest request, DemoSignals signals)
    {
        var cancellationToken = signals.Token;
        var registry = new PoolRegistry();
        await using var registryScope = registry.ConfigureAwait(false);
        void Say(string line)
        {
            lock (error)
            {
                error.WriteLine(line);
            }
        }

        DashboardServer dashboard;
        try
        {
            dashboard = await DashboardServer.StartAsync(request, registry, Say, cancellationToken).ConfigureAwait(false);
        }
        catch (UsageException e)
        {
            Say($"lifeguard demo: {e.Message}");
            return ExitCodes.Usage;
        }

        await using var dashboardScope = dashboard.ConfigureAwait(false);
        dashboard.Announce(Say);
        int code = await RunAsync(output, registry, cancellationToken).ConfigureAwait(false);
        Say($"dashboard: the demo is over; its pools stay on {dashboard.Page} until Ctrl-C.");
        try
        {
            await Task.Delay(Timeout.Infinite, cancellationToken).ConfigureAwait(false);
        }
        catch (OperationCanceledException) when (signals.ExitCode != 0)
        {
            // Ctrl-C or SIGTERM: the expected end, once the demo is over; the exit code is the demo's.
        }

        Say("dashboard: stopping the page and the demo's pools.");
        return code;
    }

    /// <summary>
    /// The demo's three parts. With a <paramref name="registry"/>, the pools go there, to stay up after the demo (the
    /// registry stops them); without one, each is stopped when its part ends.
    /// </summary>
    private static async Task<int> RunAsync(TextWriter output, PoolRegistry? registry, CancellationToken cancellationToken)
    {
        var samples = Path.Combine(AppContext.BaseDirectory, "demo");
        await SquaresAsync(output, samples, registry, cancellationToken).ConfigureAwait(false);
        var (rate, serviceTime, lost) = await StackingAsync(output, samples, registry, cancellationToken).ConfigureAwait(false);

        await output.WriteLineAsync().ConfigureAwait(false);
        await output.WriteLineAsync("3. Sizing the stacking pool for what was just measured (Little's Law):").ConfigureAwait(false);
        var advice = SizingAdvice.Compute(rate, serviceTime, peakRate: rate * 1.5, headroom: 1.2);
        await output.WriteLineAsync(string.Create(C, $"   measured λ = {rate:0.#} calls/s, W = {serviceTime.TotalMilliseconds:0.##} ms per call; for peaks of 1.5 λ and 20% headroom:")).ConfigureAwait(false);
        await output.WriteLineAsync(string.Create(C, $"   Size {advice.Size}, MaxOverflow {advice.MaxOverflow}")).ConfigureAwait(false);
        foreach (var line in advice.Explain().Split(Environment.NewLine))
        {
            await output.WriteLineAsync("   " + line).ConfigureAwait(false);
        }

        return lost == 0 ? ExitCodes.Success : ExitCodes.SomeFailed;
    }

    /// <summary>Seed 003: 20 slow squares through Size 5 + MaxOverflow 2, the queue shown as it drains.</summary>
    private static async Task SquaresAsync(TextWriter output, string samples, PoolRegistry? registry, CancellationToken cancellationToken)
    {
        var options = new PythonPoolOptions { Name = "squares", Size = 5, MaxOverflow = 2, CheckoutTimeout = Timeout.InfiniteTimeSpan };
        options.ModulePaths.Add(samples);
        options.Preload.Add("slow_square");
        await output.WriteLineAsync("1. Twenty slow squares (0.25 s each) through a pool of 5 Python workers that may burst to 7:").ConfigureAwait(false);
        var pool = await StartAsync(options, registry, cancellationToken).ConfigureAwait(false);
        await using var poolScope = Owned(pool, registry).ConfigureAwait(false);
        var clock = Stopwatch.StartNew();
        var calls = Enumerable.Range(1, 20).Select(n => pool.CallAsync<long>("slow_square", "square", [n], cancellationToken: cancellationToken)).ToArray();
        await WatchAsync(output, pool, Task.WhenAll(calls), cancellationToken).ConfigureAwait(false);
        var squares = await Task.WhenAll(calls).ConfigureAwait(false);
        bool correct = squares.Select((s, i) => s == (long)(i + 1) * (i + 1)).All(ok => ok);
        await output.WriteLineAsync(string.Create(C, $"   20 squares in {clock.Elapsed.TotalSeconds:0.00} s, all correct: {correct}; overflow workers dismissed: {pool.GetStatus()}")).ConfigureAwait(false);
    }

    /// <summary>
    /// Seed 001: the optimiser over the bundled deliveries; midway one busy worker is killed (SIGKILL, by the pid the
    /// pool reports) and the call it was serving is retried on another worker.
    /// </summary>
    private static async Task<(double Rate, TimeSpan ServiceTime, int Lost)> StackingAsync(TextWriter output, string samples, PoolRegistry? registry, CancellationToken cancellationToken)
    {
        var options = new PythonPoolOptions { Name = "stacking", Size = 4, MaxOverflow = 0, MaxRetries = 1, CheckoutTimeout = Timeout.InfiniteTimeSpan };
        options.ModulePaths.Add(samples);
        options.Preload.Add("optimizer");
        var lines = File.ReadLines(Path.Combine(samples, "deliveries.jsonl")).Where(l => !string.IsNullOrWhiteSpace(l)).ToArray();
        await output.WriteLineAsync().ConfigureAwait(false);
        await output.WriteLineAsync($"2. The delivery-stacking optimiser over {lines.Length} bundled batches arriving at {ArrivalsPerSecond}/s, 4 workers, one killed midway:").ConfigureAwait(false);
        var pool = await StartAsync(options, registry, cancellationToken).ConfigureAwait(false);
        await using var poolScope = Owned(pool, registry).ConfigureAwait(false);
        using var inFlight = new SemaphoreSlim(4);
        long totalTicks = 0;
        int done = 0;
        int? killed = null;
        var clock = Stopwatch.StartNew();
        var calls = lines.Select(async (line, index) =>
        {
            // Batches arrive at a steady rate, as requests to a service would, so the run can be watched.
            var due = TimeSpan.FromSeconds(index / (double)ArrivalsPerSecond) - clock.Elapsed;
            if (due > TimeSpan.Zero)
            {
                await Task.Delay(due, cancellationToken).ConfigureAwait(false);
            }

            using var document = JsonDocument.Parse(line);
            var batch = document.RootElement.Clone();
            await inFlight.WaitAsync(cancellationToken).ConfigureAwait(false);
            try
            {
                long started = Stopwatch.GetTimestamp();
                var plan = await pool.CallAsync("optimizer", "optimize", [batch], cancellationToken: cancellationToken).ConfigureAwait(false);
                Interlocked.Add(ref totalTicks, Stopwatch.GetElapsedTime(started).Ticks);
                if (Interlocked.Increment(ref done) == lines.Length / 3)
                {
                    killed = KillOneWorker(pool);
                }

                return plan.TryGetProperty("batch", out var id) && id.GetString() == batch.GetProperty("batch").GetString();
            }
            catch (LifeguardException)
            {
                return false;
            }
            finally
            {
                inFlight.Release();
            }
        }).ToArray();
        await WatchAsync(output, pool, Task.WhenAll(calls), cancellationToken).ConfigureAwait(false);
        var planned = await Task.WhenAll(calls).ConfigureAwait(false);
        var elapsed = clock.Elapsed;
        int lost = planned.Count(ok => !ok);
        var status = pool.GetStatus();
        var pids = string.Join(", ", status.Workers.Select(w => w.Details["pid"]));
        await output.WriteLineAsync(killed is { } pid
            ? $"   killed worker pid {pid} midway; the pool replaced it (deaths {status.TotalDeaths}, restarts {status.TotalRestarts}); workers now: {pids}"
            : "   (no worker could be killed)").ConfigureAwait(false);
        await output.WriteLineAsync(string.Create(C, $"   {planned.Length - lost} of {lines.Length} plans in {elapsed.TotalSeconds:0.00} s; {(lost == 0 ? "no input lost" : lost + " inputs LOST")}")).ConfigureAwait(false);
        return (lines.Length / elapsed.TotalSeconds, TimeSpan.FromTicks(Interlocked.Read(ref totalTicks) / lines.Length), lost);
    }

    private static async Task<PythonPool> StartAsync(PythonPoolOptions options, PoolRegistry? registry, CancellationToken cancellationToken)
    {
        var pool = await PythonPool.StartAsync(options, cancellationToken).ConfigureAwait(false);
        registry?.Add(pool);
        return pool;
    }

    /// <summary>What stops the pool at the end of its part: the pool itself, or nothing when the registry keeps it.</summary>
    private static IAsyncDisposable Owned(PythonPool pool, PoolRegistry? registry) => registry is null ? pool : NotOwned.Instance;

    /// <summary>Kills a busy worker if there is one (its call is retried elsewhere), else an idle one.</summary>
    private static int? KillOneWorker(PythonPool pool)
    {
        var victim = pool.GetStatus().Workers.Where(w => w.Details.ContainsKey("pid")).OrderBy(w => w.State == WorkerState.Busy ? 0 : 1).FirstOrDefault();
        if (victim?.Details["pid"] is not int pid)
        {
            return null;
        }

        // By the pid the pool reports for its own worker; never by name.
        using var process = Process.GetProcessById(pid);
        process.Kill();
        return pid;
    }

    /// <summary>Prints the pool's status every 250 ms until <paramref name="work"/> completes.</summary>
    private static async Task WatchAsync(TextWriter output, PythonPool pool, Task work, CancellationToken cancellationToken)
    {
        var clock = Stopwatch.StartNew();
        while (!work.IsCompleted)
        {
            var s = pool.GetStatus();
            await output.WriteLineAsync(string.Create(C, $"   {clock.Elapsed.TotalSeconds,5:0.00}s  {s.State,-8} busy {s.Busy} idle {s.Idle} overflow {s.Overflow} waiting {s.Waiters}  deaths {s.TotalDeaths}")).ConfigureAwait(false);
            await Task.WhenAny(work, Task.Delay(250, cancellationToken)).ConfigureAwait(false);
        }
    }
}

/// <summary>Disposes nothing: for a pool its registry stops.</summary>
internal sealed class NotOwned : IAsyncDisposable
{
    public static readonly NotOwned Instance = new();

    public ValueTask DisposeAsync() => ValueTask.CompletedTask;
}

/// <summary>
/// SIGINT and SIGTERM for <c>lifeguard demo</c>: each cancels <see cref="Token"/> instead of ending the process, so
/// that the demo stops its pools (and its page) itself before it exits. Thread-safe.
/// </summary>
internal sealed class DemoSignals : IDisposable
{
    private readonly CancellationTokenSource _stop;
    private readonly PosixSignalRegistration[] _registrations;
    private int _exitCode;

    public DemoSignals(CancellationToken outer)
    {
        _stop = CancellationTokenSource.CreateLinkedTokenSource(outer);
        _registrations =
        [
            PosixSignalRegistration.Create(PosixSignal.SIGINT, OnSignal),
            PosixSignalRegistration.Create(PosixSignal.SIGTERM, OnSignal),
        ];
    }

    public CancellationToken Token => _stop.Token;

    /// <summary>0 until a signal; then 130 after SIGINT, 143 after SIGTERM.</summary>
    public int ExitCode => Volatile.Read(ref _exitCode);

    public void Dispose()
    {
        foreach (var registration in _registrations)
        {
            registration.Dispose();
        }

        _stop.Dispose();
    }

    private void OnSignal(PosixSignalContext context)
    {
        context.Cancel = true;
        Interlocked.CompareExchange(ref _exitCode, context.Signal == PosixSignal.SIGTERM ? 143 : 130, 0);
        try
        {
            _stop.Cancel();
        }
        catch (ObjectDisposedException)
        {
            // The demo is over.
        }
    }
}
