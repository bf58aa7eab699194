namespace Lifeguard;

/// <summary>The state of a pool, as poolboy's <c>status/1</c> reports it, plus supervision and lifetime states.</summary>
public enum PoolState
{
    /// <summary>An idle worker exists: a checkout is served at once.</summary>
    Ready,

    /// <summary>No worker is idle, but a checkout would start an overflow worker.</summary>
    Overflow,

    /// <summary>No worker is idle and the cap is reached: a checkout would wait.</summary>
    Full,

    /// <summary>
    /// Too many workers died or failed to start recently: idle workers are still handed out, but a checkout that
    /// needs a new worker fails fast, and starts are retried with exponential backoff.
    /// </summary>
    Backoff,

    /// <summary>The pool is stopping or stopped: checkouts fail with <see cref="PoolStoppedException"/>.</summary>
    Stopped,
}
