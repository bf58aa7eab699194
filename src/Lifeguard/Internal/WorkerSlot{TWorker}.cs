namespace Lifeguard;

/// <summary>Where a worker is in its life.</summary>
internal enum SlotState
{
    Detached,
    Idle,
    Busy,
    Gone,
}

/// <summary>Whether a worker due to retire has a replacement started before it leaves (warm recycling, reload).</summary>
internal enum SuccessorState
{
    /// <summary>No replacement is on the way.</summary>
    None,

    /// <summary>Its replacement is starting; the worker serves until it is up.</summary>
    Starting,

    /// <summary>Its replacement is in the pool; the worker, leased, leaves at its checkin.</summary>
    Joined,
}

/// <summary>
/// One worker and its bookkeeping. Every mutable field is read and written only under the owning pool's lock,
/// except <see cref="Worker"/> (set once before the slot is published) and the stop flag (interlocked).
/// </summary>
internal sealed class WorkerSlot<TWorker>
    where TWorker : class
{
    private int _stopped;

    public WorkerSlot(int id, WorkerContext context, int number, int generation)
    {
        Id = id;
        Context = context;
        Number = number;
        Generation = generation;
        context.Slot = number;
    }

    public int Id { get; }

    public WorkerContext Context { get; }

    public TWorker? Worker { get; set; }

    /// <summary>Its slot number (<see cref="WorkerContext.Slot"/>).</summary>
    public int Number { get; }

    /// <summary>The pool's code generation when its start began.</summary>
    public int Generation { get; }

    /// <summary>Whether it still holds <see cref="Number"/> in the pool's <see cref="SlotNumbers"/>.</summary>
    public bool HoldsNumber { get; set; } = true;

    /// <summary>Whether a replacement has been started before it leaves; counted in the pool's warm pairs unless None.</summary>
    public SuccessorState Successor { get; set; }

    /// <summary>How long it may live, in timestamp ticks (its share of <see cref="PoolOptions.MaxWorkerLifetime"/>).</summary>
    public long LifetimeTicks { get; set; } = long.MaxValue;

    public SlotState State { get; set; } = SlotState.Detached;

    public long StartedAt { get; set; }

    public long IdleSince { get; set; }

    public long CheckedOutAt { get; set; }

    public long Uses { get; set; }

    public long MaxUses { get; set; } = long.MaxValue;

    public int RecycleEpoch { get; set; }

    public bool RetirePending { get; set; }

    /// <summary>Whether the slot is in the pool's list of live workers.</summary>
    public bool Listed { get; set; }

    public LeaseTracker<TWorker>? SpareTracker { get; set; }

    public CheckoutStack? CheckoutStack { get; set; }

    public bool LeakReported { get; set; }

    /// <summary>The worker's process id, read once after its start (before the slot is published); null if none.</summary>
    public int? ProcessId { get; set; }

    /// <summary>Why it left: the death it reported, or what failed; for events.</summary>
    public Exception? ExitError { get; set; }

    /// <summary>Whether an operator asked to kill it: it leaves with the reason "killed", and not as a failure.</summary>
    public bool KillRequested { get; set; }

    public string? KillSource { get; set; }

    /// <summary>Completed (after the lock) when a slot whose kill was requested leaves the pool.</summary>
    public TaskCompletionSource? KillDone { get; set; }

    /// <summary>Claims the one right to stop this worker.</summary>
    public bool TryClaimStop() => Interlocked.Exchange(ref _stopped, 1) == 0;
}
