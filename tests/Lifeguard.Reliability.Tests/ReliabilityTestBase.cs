using System.Diagnostics;
using System.Globalization;
using System.Runtime.InteropServices;
using Lifeguard.Python;
using Lifeguard.Testing;
using Microsoft.Extensions.Logging;

namespace Lifeguard.Reliability.Tests;

/// <summary>Shared helpers for the reliability suites: the fixture modules, the profile, and process checks by pid.</summary>
public abstract partial class ReliabilityTestBase
{
    /// <summary>The folder holding the suites' Python modules and hostile workers.</summary>
    protected static string PythonPath => Path.Combine(AppContext.BaseDirectory, "python");

    /// <summary>
    /// <see langword="true"/> for the long profile (<c>LIFEGUARD_RELIABILITY=long</c>): the issue-sized loads that take
    /// tens of minutes. The CI profile is the default.
    /// </summary>
    protected static bool LongProfile =>
        string.Equals(Environment.GetEnvironmentVariable("LIFEGUARD_RELIABILITY"), "long", StringComparison.OrdinalIgnoreCase);

    protected RecordingLoggerProvider Logs { get; } = new();

    protected static int EnvInt(string name, int fallback) =>
        int.TryParse(Environment.GetEnvironmentVariable(name), NumberStyles.Integer, CultureInfo.InvariantCulture, out var value) ? value : fallback;

    /// <summary>True while the process runs (a zombie has exited: it only waits to be reaped).</summary>
    protected static bool ProcessExists(int pid) => ProcFs.IsRunning(pid);

    /// <summary>The pids of this process's live children.</summary>
    protected static IReadOnlyList<int> ChildProcesses() => ProcFs.Children();

    /// <summary>
    /// A pool of Python workers on the suites' modules, configured for a storm of faults as a user expecting one would:
    /// short call timeout and grace, retries for idempotent calls, and a restart intensity that tolerates hundreds of
    /// deaths a minute (the default would put the pool into backoff, which is what it is for in production).
    /// </summary>
    protected static PythonPoolOptions StormOptions(string name, int size, int maxOverflow, ILoggerFactory loggerFactory, PythonStartMode mode = PythonStartMode.Spawn)
    {
        var options = new PythonPoolOptions
        {
            Name = name,
            StartMode = mode,
            Size = size,
            MaxOverflow = maxOverflow,
            CallTimeout = TimeSpan.FromSeconds(1),
            CancelGracePeriod = TimeSpan.FromMilliseconds(200),
            MaxRetries = 5,
            CheckoutTimeout = TimeSpan.FromSeconds(60),
            MaxRestarts = 1000,
            RestartWindow = TimeSpan.FromSeconds(10),
            LoggerFactory = loggerFactory,
        };
        options.ModulePaths.Add(PythonPath);
        return options;
    }

    /// <summary>
    /// Waits until the pool is Ready at exactly <paramref name="size"/> idle workers, none of them frozen (SIGSTOP),
    /// and <paramref name="also"/> holds. A frozen worker answers nothing until a call to it times out and it is
    /// replaced, so while one is listed, one call per worker at once flushes it. False if that takes over a minute.
    /// </summary>
    protected static async Task<bool> SettleAsync(PythonPool pool, int size, Func<bool>? also = null)
    {
        var deadline = Stopwatch.StartNew();
        while (deadline.Elapsed < TimeSpan.FromSeconds(60))
        {
            var status = pool.GetStatus();
            bool frozen = status.Workers.Any(w => FaultInjector.State((int)w.Details["pid"]!) == 'T');
            if (!frozen && status.State == PoolState.Ready && status.Busy == 0 && status.Starting == 0 && status.Idle == size
                && (also?.Invoke() ?? true))
            {
                return true;
            }

            if (frozen)
            {
                await Task.WhenAll(Enumerable.Range(0, size).Select(_ => pool.CallAsync<int>("chaos", "pid")));
            }
            else
            {
                await Task.Delay(20);
            }
        }

        return false;
    }

    /// <summary>Asserts that none of <paramref name="seen"/>, and no child of this process, still runs a worker or a fork server's template.</summary>
    protected static async Task AssertNoWorkerLeftAsync(IReadOnlyCollection<int> seen)
    {
        var deadline = Stopwatch.StartNew();
        List<int> left;
        while ((left = [.. seen.Where(FaultInjector.IsOurWorker), .. ChildProcesses().Where(p => FaultInjector.IsOurWorker(p) || FaultInjector.IsTemplate(p))]).Count > 0
            && deadline.Elapsed < TimeSpan.FromSeconds(10))
        {
            await Task.Delay(20);
        }

        Assert.True(left.Count == 0, "worker processes outlived the pool: " + string.Join(", ", left.Distinct()));
    }

    /// <summary>Sends a signal to one process, by the pid we hold.</summary>
    public static void SendSignal(int pid, int signal) => _ = Kill(pid, signal);

    [LibraryImport("libc", EntryPoint = "kill", SetLastError = true)]
    private static partial int Kill(int pid, int signal);
}
