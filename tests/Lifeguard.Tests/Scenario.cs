using System.Runtime.CompilerServices;
using Lifeguard.Testing;

namespace Lifeguard.Tests;

/// <summary>Set-up shared by the scenario tests.</summary>
internal static class Scenario
{
    private static int _counter;

    /// <summary>A name no other test uses (the default meter is process-wide, so metrics are told apart by name).</summary>
    public static string UniqueName([CallerMemberName] string test = "")
        => $"{test}-{Interlocked.Increment(ref _counter)}";

    /// <summary>
    /// Options with a unique name, the given clock (the system clock when null) and meter factory (the process-wide
    /// meter when null). DrainTimeout is zero so that a test
    /// that fails while holding a lease never hangs in its pool's dispose; tests of draining set their own.
    /// </summary>
    public static PoolOptions Options(
        TimeProvider? time, int size, int maxOverflow = 0, TestMetrics? metrics = null, [CallerMemberName] string test = "")
        => new()
        {
            Name = UniqueName(test),
            Size = size,
            MaxOverflow = maxOverflow,
            TimeProvider = time ?? TimeProvider.System,
            DrainTimeout = TimeSpan.Zero,
            MeterFactory = metrics?.Factory,
        };

    /// <summary>Waits, polling with a bound, for an effect that happens on the thread pool.</summary>
    public static Task Until(Func<bool> condition, string what) => FakeWorkerFactory.WaitUntilAsync(condition, what);

    /// <summary>Asserts the counts a snapshot must always satisfy, and returns it.</summary>
    public static PoolStatus Consistent(this PoolStatus status)
    {
        Assert.Equal(status.Idle + status.Busy + status.Starting, status.Live);
        Assert.Equal(Math.Max(0, status.Live - status.Size), status.Overflow);
        Assert.True(status.Waiters == 0 || status.Idle == 0, $"callers wait while a worker is idle: {status}");
        Assert.Equal(status.Idle + status.Busy, status.Workers.Count);
        Assert.Equal(status.Idle, status.Workers.Count(w => w.State == WorkerState.Idle));
        return status;
    }
}
