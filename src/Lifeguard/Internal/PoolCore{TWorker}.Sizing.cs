using System.Runtime.CompilerServices;

namespace Lifeguard;

/// <summary>
/// Sizing from live measurements, at no cost to checkouts: a timer samples the busy count four times a second (L) and
/// snapshots the checkout counter once a second (λ) into a ring covering <see cref="PoolOptions.SizingWindow"/>; W
/// follows from Little's Law, W = L / λ. The timer runs only while the pool is in use.
/// </summary>
internal sealed partial class PoolCore<TWorker>
{
    private const int QuietSeconds = 5;
    private const int SamplesPerSecond = 4;
    private static readonly TimeSpan SamplePeriod = TimeSpan.FromSeconds(1.0 / SamplesPerSecond);

    /// <summary>
    /// Called by the first checkout after a quiet spell (or ever): starts the sampling timer again, so an idle pool
    /// costs none; if everything measured before has aged out of the window, the window starts afresh.
    /// </summary>
    [MethodImpl(MethodImplOptions.NoInlining)]
    private void StartMeasuringLocked()
    {
        _sizingArmed = true;
        if (_loadCount > 0 && Load(_loadCount - 1).At < _time.GetTimestamp() - ToTimestampTicks(_options.SizingWindow))
        {
            _loadCount = 0;
            _loadNext = 0;
        }

        TimerCalls.ChangeLocked(_sizingTimer, TimeSpan.Zero, SamplePeriod, _lock);
    }

    private void OnSizingTick()
    {
        using (_lock.EnterScope())
        {
            if (!_sizingArmed || _stopping)
            {
                return;
            }

            _busySum += _busy;
            _busySamples++;
            if (_sizingTicks++ % SamplesPerSecond != 0)
            {
                return;
            }

            long checkouts = CheckoutsLocked;
            _load[_loadNext] = (_time.GetTimestamp(), checkouts, _busySum, _busySamples);
            _loadNext = (_loadNext + 1) % _load.Length;
            _loadCount = Math.Min(_loadCount + 1, _load.Length);

            // Quiet (no checkout for QuietSeconds, whether or not leases are held): stop sampling until the next
            // checkout. The snapshots already taken stay, and age out of the window on their own.
            if (_loadCount > QuietSeconds && Load(_loadCount - 1 - QuietSeconds).Checkouts == checkouts)
            {
                _sizingArmed = false;
                _sizingTimer.Change(Timeout.InfiniteTimeSpan, Timeout.InfiniteTimeSpan);
            }
        }
    }

    /// <summary>
    /// The current observation over the snapshots inside the window, or null when there is none (no load within the
    /// last <see cref="PoolOptions.SizingWindow"/>), less than a second is covered, or nothing was checked out.
    /// </summary>
    private SizingObservation? ObserveLocked(long now)
    {
        long windowStart = now - ToTimestampTicks(_options.SizingWindow);
        int first = 0;
        while (first < _loadCount && Load(first).At < windowStart)
        {
            first++;
        }

        if (first == _loadCount)
        {
            return null;
        }

        var oldest = Load(first);
        var elapsed = _time.GetElapsedTime(oldest.At, now);
        long samples = _busySamples - oldest.BusySamples;
        long checkouts = CheckoutsLocked - oldest.Checkouts;
        if (elapsed < TimeSpan.FromSeconds(1) || samples == 0 || checkouts == 0)
        {
            return null;
        }

        double rate = checkouts / elapsed.TotalSeconds;
        double meanBusy = (_busySum - oldest.BusySum) / (double)samples;
        var leaseTime = TimeSpan.FromSeconds(meanBusy / rate);
        double peak = rate;
        for (int i = first + 1; i < _loadCount; i++)
        {
            var (earlier, later) = (Load(i - 1), Load(i));
            double seconds = _time.GetElapsedTime(earlier.At, later.At).TotalSeconds;
            if (seconds > 0)
            {
                peak = Math.Max(peak, (later.Checkouts - earlier.Checkouts) / seconds);
            }
        }

        var advice = SizingAdvice.Compute(rate, leaseTime > TimeSpan.Zero ? leaseTime : TimeSpan.FromTicks(1), peak);
        return new SizingObservation(elapsed, rate, peak, meanBusy, leaseTime, advice);
    }

    /// <summary>The i-th snapshot, oldest first.</summary>
    private (long At, long Checkouts, long BusySum, long BusySamples) Load(int i)
        => _load[(_loadNext - _loadCount + i + (2 * _load.Length)) % _load.Length];

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
