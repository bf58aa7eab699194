namespace Lifeguard;

/// <summary>
/// The measurements behind sizing, in plain numbers: the busy count sampled <see cref="SamplesPerSecond"/> times a
/// second (L), and once a second a snapshot of the checkout count (λ) into a ring covering the sizing window; W
/// follows from Little's Law, W = L / λ. Timestamps are a clock's ticks at <c>frequency</c> ticks a second. Not
/// thread-safe: the owning pool calls it under its lock.
/// </summary>
internal sealed class LoadWindow
{
    /// <summary>How often the busy count is sampled.</summary>
    public const int SamplesPerSecond = 4;

    /// <summary>Seconds without a checkout after which sampling stops until the next checkout.</summary>
    public const int QuietSeconds = 5;

    private readonly (long At, long Checkouts, long BusySum, long BusySamples)[] _ring;
    private readonly long _windowTicks;
    private readonly long _frequency;
    private int _count;
    private int _next;
    private long _busySum;
    private long _busySamples;
    private int _ticks;

    /// <summary>An empty window.</summary>
    /// <param name="window">The sizing window.</param>
    /// <param name="frequency">Clock ticks per second.</param>
    public LoadWindow(TimeSpan window, long frequency)
    {
        // One snapshot a second for the window, plus the snapshot that opens it.
        _ring = new (long, long, long, long)[(int)Math.Ceiling(window.TotalSeconds) + 1];
        _frequency = frequency;
        double ticks = window.Ticks * ((double)frequency / TimeSpan.TicksPerSecond);
        _windowTicks = ticks >= long.MaxValue / 4 ? long.MaxValue / 4 : (long)ticks;
    }

    /// <summary>Whether sampling runs (the pool's timer is armed).</summary>
    public bool Armed { get; private set; }

    /// <summary>
    /// Sampling starts again (the first checkout after a quiet spell, or ever); if everything measured before has
    /// aged out of the window at <paramref name="now"/>, the window starts afresh.
    /// </summary>
    public void Arm(long now)
    {
        Armed = true;
        if (_count > 0 && Snapshot(_count - 1).At < now - _windowTicks)
        {
            _count = 0;
            _next = 0;
        }
    }

    /// <summary>
    /// One sample of the busy count, at <paramref name="now"/>, with the checkout count so far; every
    /// <see cref="SamplesPerSecond"/>-th sample also takes a snapshot. Returns false when the pool has been quiet
    /// (no checkout for <see cref="QuietSeconds"/> snapshots): sampling stops until <see cref="Arm"/>.
    /// </summary>
    public bool Sample(long now, int busy, long checkouts)
    {
        _busySum += busy;
        _busySamples++;
        if (_ticks++ % SamplesPerSecond != 0)
        {
            return true;
        }

        _ring[_next] = (now, checkouts, _busySum, _busySamples);
        _next = (_next + 1) % _ring.Length;
        _count = Math.Min(_count + 1, _ring.Length);

        // Quiet, whether or not leases are held. The snapshots already taken stay, and age out of the window.
        if (_count > QuietSeconds && Snapshot(_count - 1 - QuietSeconds).Checkouts == checkouts)
        {
            Armed = false;
            return false;
        }

        return true;
    }

    /// <summary>
    /// The observation at <paramref name="now"/> over the snapshots inside the window, or null when there is none,
    /// less than a second is covered, or nothing was checked out.
    /// </summary>
    public SizingObservation? Observe(long now, long checkouts)
    {
        long windowStart = now - _windowTicks;
        int first = 0;
        while (first < _count && Snapshot(first).At < windowStart)
        {
            first++;
        }

        if (first == _count)
        {
            return null;
        }

        var oldest = Snapshot(first);
        var elapsed = Elapsed(oldest.At, now);
        long samples = _busySamples - oldest.BusySamples;
        long checkedOut = checkouts - oldest.Checkouts;
        if (elapsed < TimeSpan.FromSeconds(1) || samples == 0 || checkedOut == 0)
        {
            return null;
        }

        double rate = checkedOut / elapsed.TotalSeconds;
        double meanBusy = (_busySum - oldest.BusySum) / (double)samples;
        var leaseTime = TimeSpan.FromSeconds(meanBusy / rate);
        double peak = rate;
        for (int i = first + 1; i < _count; i++)
        {
            var (earlier, later) = (Snapshot(i - 1), Snapshot(i));
            double seconds = Elapsed(earlier.At, later.At).TotalSeconds;
            if (seconds > 0)
            {
                peak = Math.Max(peak, (later.Checkouts - earlier.Checkouts) / seconds);
            }
        }

        var advice = SizingAdvice.Compute(rate, leaseTime > TimeSpan.Zero ? leaseTime : TimeSpan.FromTicks(1), peak);
        return new SizingObservation(elapsed, rate, peak, meanBusy, leaseTime, advice);
    }

    /// <summary>As <see cref="TimeProvider.GetElapsedTime(long, long)"/>, at this window's frequency.</summary>
    private TimeSpan Elapsed(long start, long end)
        => new((long)((end - start) * ((double)TimeSpan.TicksPerSecond / _frequency)));

    /// <summary>The i-th snapshot, oldest first.</summary>
    private (long At, long Checkouts, long BusySum, long BusySamples) Snapshot(int i)
        => _ring[(_next - _count + i + (2 * _ring.Length)) % _ring.Length];
}
