using System.Runtime.CompilerServices;

namespace Lifeguard;

/// <summary>
/// Sizing from live measurements, at no cost to checkouts: a timer samples the busy count four times a second (L) and
/// snapshots the checkout counter once a second (λ) into a ring covering <see cref="PoolOptions.SizingWindow"/>; W
/// follows from Little's Law, W = L / λ. The timer runs only while the pool is in use.
/// </summary>
internal sealed partial class PoolCore<TWorker>
{
    private static readonly TimeSpan SamplePeriod = TimeSpan.FromSeconds(1.0 / LoadWindow.SamplesPerSecond);

    // Guarded by _lock.
    private readonly LoadWindow _loadWindow;
    private readonly ITimer _sizingTimer;

    /// <summary>
    /// Called by the first checkout after a quiet spell (or ever): starts the sampling timer again, so an idle pool
    /// costs none.
    /// </summary>
    [MethodImpl(MethodImplOptions.NoInlining)]
    private void StartMeasuringLocked()
    {
        _loadWindow.Arm(_time.GetTimestamp());
        TimerCalls.ChangeLocked(_sizingTimer, TimeSpan.Zero, SamplePeriod, _lock);
    }

    private void OnSizingTick()
    {
        using (_lock.EnterScope())
        {
            if (!_loadWindow.Armed || _stopping)
            {
                return;
            }

            if (!_loadWindow.Sample(_time.GetTimestamp(), _busy, CheckoutsLocked))
            {
                _sizingTimer.Change(Timeout.InfiniteTimeSpan, Timeout.InfiniteTimeSpan);
            }
        }
    }

    /// <summary>The current observation (<see cref="LoadWindow.Observe"/>).</summary>
    private SizingObservation? ObserveLocked(long now) => _loadWindow.Observe(now, CheckoutsLocked);

    /// <summary>For the metrics gauges: the current observation, taken under the lock.</summary>
    public SizingObservation? Sizing
    {
        get
        {
            using (_lock.EnterScope())
            {
                return ObserveLocked(_time.GetTimestamp());
            }
        }
    }
}
