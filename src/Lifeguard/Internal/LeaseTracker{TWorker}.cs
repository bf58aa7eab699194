namespace Lifeguard;

/// <summary>
/// The reusable identity behind <see cref="Lease{TWorker}"/>: one per worker slot, handed out with an odd generation
/// and returned by moving it to the next even one. Every move of the generation happens under the owning pool's
/// lock (issue, checkin, cancel, and the finalizer's reclaim), so exactly one of any number of concurrent disposals
/// of the same lease wins, and a checkin costs the lock's one atomic operation, not a second one for the tracker.
/// Reads (<see cref="IsCurrent"/>) take no lock. Thread-safe.
/// </summary>
/// <remarks>
/// While leased, nothing in the pool references the tracker (the slot gives up its reference at checkout), so a
/// lease its holder forgets becomes unreachable and the finalizer reclaims the worker, like poolboy's monitor on the
/// client. While not leased the slot holds it, so it is never finalized in steady state and no
/// <c>GC.SuppressFinalize</c>/<c>ReRegisterForFinalize</c> is needed on the hot path.
/// </remarks>
internal sealed class LeaseTracker<TWorker>
    where TWorker : class
{
    private readonly PoolCore<TWorker> _core;
    private int _generation;

    // The generation of the lease last marked broken: a mark names its lease, so a stale copy's late mark can never
    // land on the next holder's lease.
    private int _brokenGeneration;

    public LeaseTracker(PoolCore<TWorker> core, WorkerSlot<TWorker> slot)
    {
        _core = core;
        Slot = slot;
    }

#pragma warning disable MA0055 // The finalizer is the point: it reclaims workers of leases that were never disposed.
    ~LeaseTracker() => _core.OnTrackerFinalized(this);
#pragma warning restore MA0055

    public WorkerSlot<TWorker> Slot { get; }

    /// <summary>Whether the lease just returned (the generation before the current, even one) was marked broken.</summary>
    public bool Broken => Volatile.Read(ref _brokenGeneration) == Volatile.Read(ref _generation) - 1;

    /// <summary>Starts a new lease. Called by the pool under its lock, only while not leased.</summary>
    public int Issue()
    {
        int generation = _generation + 1;
        Volatile.Write(ref _generation, generation);
        return generation;
    }

    /// <summary>
    /// Ends the lease of <paramref name="generation"/> if it is still current. Called only under the pool's lock,
    /// which is what makes the read and the write one step: a concurrent disposal of a copy waits for the lock and
    /// then finds the generation moved on.
    /// </summary>
    public bool TryEndLocked(int generation)
    {
        if (_generation != generation)
        {
            return false;
        }

        Volatile.Write(ref _generation, generation + 1);
        return true;
    }

    /// <summary>Ends whatever lease is current, if any (the finalizer's reclaim). Under the pool's lock.</summary>
    public bool TryEndCurrentLocked() => (_generation & 1) == 1 && TryEndLocked(_generation);

    public bool IsCurrent(int generation) => Volatile.Read(ref _generation) == generation;

    public void MarkBroken(int generation)
    {
        // Read the mark, then check the lease is current, then write only over the mark read. A stale copy that passed
        // the check before the lease moved on either writes its own (old) generation, which no later lease has, or
        // fails its compare-and-swap because the next holder marked its own lease meanwhile.
        int mark = Volatile.Read(ref _brokenGeneration);
        if (IsCurrent(generation))
        {
            Interlocked.CompareExchange(ref _brokenGeneration, generation, mark);
        }
    }

    public void Return(int generation) => _core.Return(this, generation);
}
