namespace Lifeguard;

/// <summary>
/// A worker's identity in its pool, handed to <see cref="IWorkerFactory{TWorker}.StartAsync"/>, and the worker's way
/// to tell the pool that it died. Thread-safe.
/// </summary>
public sealed class WorkerContext
{
    private readonly Action<WorkerContext, Exception?> _onTerminated;
    private int _terminated;

    internal WorkerContext(string poolName, int workerId, Action<WorkerContext, Exception?> onTerminated)
    {
        PoolName = poolName;
        WorkerId = workerId;
        _onTerminated = onTerminated;
    }

    /// <summary>The name of the pool this worker belongs to.</summary>
    public string PoolName { get; }

    /// <summary>The worker's id, unique within its pool for the pool's lifetime.</summary>
    public int WorkerId { get; }

    /// <summary>Whether <see cref="ReportTerminated"/> has been called.</summary>
    public bool IsTerminated => Volatile.Read(ref _terminated) != 0;

    /// <summary>
    /// The worker's slot: a number from 0 up to <see cref="PoolOptions.Size"/> + <see cref="PoolOptions.MaxOverflow"/> − 1
    /// that stays with the position the worker fills. A replacement takes the slot of the worker it replaces, so a
    /// per-slot resource (a GPU, a port) stays pinned to one slot for good. During a warm overlap (a replacement
    /// started before its worker leaves) two workers briefly share a slot.
    /// </summary>
    public int Slot { get; internal set; }

    /// <summary>The pool's bookkeeping for this worker.</summary>
    internal object? Owner { get; set; }

    /// <summary>The reason given to the first <see cref="ReportTerminated"/>; set before the pool is told.</summary>
    internal Exception? TerminationReason { get; private set; }

    /// <summary>
    /// Tells the pool that this worker is dead (its process exited, its connection dropped). The pool removes it at
    /// once, whether idle or leased, stops it, and starts a replacement as poolboy does: for a waiting caller, or to
    /// keep <see cref="PoolOptions.Size"/> workers; not while the pool has overflow. Only the first call counts.
    /// </summary>
    /// <param name="reason">What killed it, kept as the pool's last failure.</param>
    public void ReportTerminated(Exception? reason = null)
    {
        if (Interlocked.Exchange(ref _terminated, 1) == 0)
        {
            TerminationReason = reason;
            _onTerminated(this, reason);
        }
    }
}
