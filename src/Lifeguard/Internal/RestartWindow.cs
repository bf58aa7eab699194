namespace Lifeguard;

/// <summary>
/// Restart intensity, in plain numbers: the times of recent worker failures (clock ticks), and the delay before the
/// next backoff probe, doubled after each failed probe up to a ceiling (OTP's MaxR in MaxT, then poolboy-style
/// backoff). Not thread-safe: the owning pool calls it under its lock.
/// </summary>
internal sealed class RestartWindow
{
    private readonly Queue<long> _failures = new();
    private readonly int? _maxRestarts;
    private readonly long _windowTicks;
    private readonly TimeSpan _initialDelay;
    private readonly TimeSpan _maxDelay;

    /// <summary>An empty window.</summary>
    /// <param name="maxRestarts">Failures tolerated within the window; null for no limit (nothing is kept).</param>
    /// <param name="windowTicks">The window's length, in clock ticks.</param>
    /// <param name="initialDelay">The first probe's delay.</param>
    /// <param name="maxDelay">The ceiling of the doubled delays.</param>
    public RestartWindow(int? maxRestarts, long windowTicks, TimeSpan initialDelay, TimeSpan maxDelay)
    {
        _maxRestarts = maxRestarts;
        _windowTicks = windowTicks;
        _initialDelay = initialDelay;
        _maxDelay = maxDelay;
        BackoffDelay = initialDelay;
    }

    /// <summary>How long to wait before the next probe start.</summary>
    public TimeSpan BackoffDelay { get; private set; }

    /// <summary>Failures within the window, as of the last <see cref="RecordFailure"/>.</summary>
    public int Count => _failures.Count;

    /// <summary>
    /// Records a failure at <paramref name="now"/>, forgetting those older than the window; returns whether more than
    /// <c>maxRestarts</c> failures now fall within it. Without a limit, it never does, and no failure is kept.
    /// </summary>
    public bool RecordFailure(long now)
    {
        if (_maxRestarts is not { } max)
        {
            return false;
        }

        _failures.Enqueue(now);
        // At most max + 1 are kept: the count is compared with max in long arithmetic, so no limit can overflow it.
        while (_failures.Count > 0 && (now - _failures.Peek() > _windowTicks || _failures.Count > (long)max + 1))
        {
            _failures.Dequeue();
        }

        return _failures.Count > max;
    }

    /// <summary>A probe failed: the next waits twice as long, up to the ceiling.</summary>
    public void LengthenDelay() => BackoffDelay = TimeSpan.FromTicks(Math.Min(BackoffDelay.Ticks * 2, _maxDelay.Ticks));

    /// <summary>Backoff begins: the first probe waits the initial delay.</summary>
    public void ResetDelay() => BackoffDelay = _initialDelay;

    /// <summary>Backoff ended: the failures are forgotten and the delay starts over.</summary>
    public void Clear()
    {
        _failures.Clear();
        BackoffDelay = _initialDelay;
    }
}
