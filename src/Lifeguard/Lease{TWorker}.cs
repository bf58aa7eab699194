namespace Lifeguard;

/// <summary>
/// Exclusive use of one pooled worker until disposed. Disposing (sync or async) checks the worker in; it is the only
/// way to do so. Disposing twice, or disposing a stale copy after the worker was checked in, is a no-op.
/// A lease that is never disposed and becomes garbage is reclaimed: its worker is treated as dead and replaced.
/// </summary>
/// <remarks>
/// A lease is a small struct over a pooled tracker and a generation number, so checkouts allocate nothing; copies
/// of it share one identity. Use it from one logical flow at a time.
/// </remarks>
/// <typeparam name="TWorker">The worker type.</typeparam>
public readonly struct Lease<TWorker> : IDisposable, IAsyncDisposable
    where TWorker : class
{
    private readonly LeaseTracker<TWorker>? _tracker;
    private readonly int _generation;

    internal Lease(LeaseTracker<TWorker> tracker, int generation)
    {
        _tracker = tracker;
        _generation = generation;
    }

    internal LeaseTracker<TWorker>? Tracker => _tracker;

    internal WorkerSlot<TWorker>? Slot => _tracker?.Slot;

    internal int Generation => _generation;

    internal bool IsEmpty => _tracker is null;

    /// <summary>The leased worker.</summary>
    /// <exception cref="ObjectDisposedException">The lease was already returned.</exception>
    public TWorker Worker
    {
        get
        {
            var tracker = _tracker ?? throw ExceptionFactory.EmptyLease();
            return tracker.IsCurrent(_generation) ? tracker.Slot.Worker! : throw ExceptionFactory.LeaseReturned();
        }
    }

    /// <summary>The leased worker's id within its pool.</summary>
    public int WorkerId => (_tracker ?? throw ExceptionFactory.EmptyLease()).Slot.Id;

    /// <summary>Whether this lease still holds its worker (not yet disposed, not empty).</summary>
    public bool IsActive => _tracker?.IsCurrent(_generation) == true;

    /// <summary>
    /// Marks the worker broken: at checkin it is stopped and replaced instead of reused. Does not count towards
    /// the pool's restart intensity.
    /// </summary>
    public void MarkBroken() => _tracker?.MarkBroken(_generation);

    /// <summary>Checks the worker in.</summary>
    public void Dispose() => _tracker?.Return(_generation);

    /// <summary>Checks the worker in; completes synchronously.</summary>
    public ValueTask DisposeAsync()
    {
        _tracker?.Return(_generation);
        return default;
    }
}
