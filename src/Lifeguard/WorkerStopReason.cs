namespace Lifeguard;

/// <summary>Why a worker left its pool (<see cref="PoolEvent.StopReason"/>; the metrics' <c>lifeguard.worker.exit.reason</c>).</summary>
public enum WorkerStopReason
{
    /// <summary>It reported that it terminated, or failed validation at checkout.</summary>
    Died,

    /// <summary>Its lease was marked broken (<see cref="Lease{TWorker}.MarkBroken"/>) and it was replaced at checkin.</summary>
    Broken,

    /// <summary>It was recycled: uses, lifetime, the recycler, or <see cref="IPool.RecycleAll()"/>.</summary>
    Retired,

    /// <summary>It was surplus: overflow no longer needed, or beyond a smaller size.</summary>
    Dismissed,

    /// <summary>Its lease was never disposed and was reclaimed by the garbage collector.</summary>
    Abandoned,

    /// <summary>It was killed on request (<see cref="IPool.KillWorkerAsync"/>).</summary>
    Killed,

    /// <summary>The pool stopped.</summary>
    PoolStopped,
}
