using System.Threading.Tasks.Sources;

namespace Lifeguard;

/// <summary>
/// A queued checkout. Pooled: its timer is created once and re-armed for each use. Completed exactly once per use,
/// by whichever transition removes it from the pool's queue under the pool's lock; the completion itself runs
/// outside the lock with continuations forced asynchronous. Fields other than the value-task core are guarded by the
/// pool's lock.
/// </summary>
internal sealed class Waiter<TWorker>(PoolCore<TWorker> owner) : IValueTaskSource<Lease<TWorker>>
    where TWorker : class
{
    private ManualResetValueTaskSourceCore<Lease<TWorker>> _core = new() { RunContinuationsAsynchronously = true };

    /// <summary>The pool this waiter belongs to; read by its timer and cancellation callbacks.</summary>
    public PoolCore<TWorker> Owner { get; } = owner;

    /// <summary>The next waiter in the pool's lock-free list of returned waiters.</summary>
    public Waiter<TWorker>? NextFree { get; set; }

    /// <summary>When the wait began (TimeProvider timestamp), if a histogram needed it; else 0.</summary>
    public long StartedAt { get; set; }

    public Waiter<TWorker>? Next { get; set; }

    public Waiter<TWorker>? Previous { get; set; }

    public bool Queued { get; set; }

    /// <summary>TimeProvider timestamp after which the wait has timed out; <see cref="long.MaxValue"/> for never.</summary>
    public long Deadline { get; set; }

    public TimeSpan Timeout { get; set; }

    public CancellationToken Token { get; set; }

    public CancellationTokenRegistration Registration { get; set; }

    public ITimer? Timer { get; set; }

    /// <summary>Where the checkout was made, when leak detection is on.</summary>
    public CheckoutStack? Stack { get; set; }

    /// <summary>
    /// A try-only or zero-timeout caller that waits only because a start can serve it: it has no deadline, and it
    /// fails rather than wait on when no start is left for it (backoff).
    /// </summary>
    public bool StartBound { get; set; }

    public ValueTask<Lease<TWorker>> AsValueTask() => new(this, _core.Version);

    public void SetResult(Lease<TWorker> lease) => _core.SetResult(lease);

    public void SetException(Exception exception) => _core.SetException(exception);

    /// <summary>Prepares for reuse. Only after the single awaiter has read the result.</summary>
    public void Reset()
    {
        _core.Reset();
        Token = default;
        Registration = default;
        Stack = null;
        StartedAt = 0;
        StartBound = false;
    }

    /// <summary>
    /// Reads the result once, then hands the waiter back to its pool for reuse: the awaiting code is its only
    /// consumer, so after this call nothing reads this use again.
    /// </summary>
    Lease<TWorker> IValueTaskSource<Lease<TWorker>>.GetResult(short token)
    {
        // A second await of the same ValueTask (a caller's misuse) must fail here, before anything is recycled:
        // recycling twice would put this waiter in the free list twice and hand it to two callers.
        if (token != _core.Version)
        {
            throw new InvalidOperationException("This checkout's ValueTask was already awaited; a ValueTask can be awaited once.");
        }

        bool succeeded = false;
        try
        {
            var lease = _core.GetResult(token);
            succeeded = true;
            return lease;
        }
        finally
        {
            Owner.OnWaiterConsumed(this, succeeded);
        }
    }

    ValueTaskSourceStatus IValueTaskSource<Lease<TWorker>>.GetStatus(short token) => _core.GetStatus(token);

    void IValueTaskSource<Lease<TWorker>>.OnCompleted(
        Action<object?> continuation, object? state, short token, ValueTaskSourceOnCompletedFlags flags)
        => _core.OnCompleted(continuation, state, token, flags);
}
