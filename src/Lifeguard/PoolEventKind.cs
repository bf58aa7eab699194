namespace Lifeguard;

/// <summary>What a <see cref="PoolEvent"/> reports.</summary>
public enum PoolEventKind
{
    /// <summary>
    /// A worker's start completed (the factory returned it). It goes to a waiter or the idle set next, or, if the pool
    /// is stopping, is stopped at once. <see cref="PoolEvent.ProcessId"/> is known from here on for process workers.
    /// </summary>
    WorkerStarted,

    /// <summary>A worker's start failed; <see cref="PoolEvent.Error"/> is the factory's error.</summary>
    WorkerStartFailed,

    /// <summary>
    /// A worker died: it reported that it terminated (its process exited, say), failed validation at checkout, or was
    /// reclaimed from a lease nobody disposed (<see cref="PoolEvent.StopReason"/> is then
    /// <see cref="WorkerStopReason.Abandoned"/>). <see cref="PoolEvent.Error"/> is why; a process worker adds
    /// <see cref="PoolEvent.ExitCode"/>, <see cref="PoolEvent.Signal"/> and <see cref="PoolEvent.OutputTail"/>.
    /// </summary>
    WorkerDied,

    /// <summary>
    /// A worker was killed on request (<see cref="IPool.KillWorkerAsync"/>) and left the pool. Carries the exit
    /// details as <see cref="WorkerDied"/> does, and the request's <see cref="PoolEvent.Source"/>.
    /// </summary>
    WorkerKilled,

    /// <summary>
    /// A worker was retired to be replaced: it reached <see cref="PoolOptions.MaxUsesPerWorker"/> or
    /// <see cref="PoolOptions.MaxWorkerLifetime"/>, its factory's recycler asked for it, or <see cref="IPool.RecycleAll()"/>.
    /// </summary>
    WorkerRecycled,

    /// <summary>A surplus worker (overflow, or beyond a smaller size after a resize) was dismissed.</summary>
    WorkerDismissed,

    /// <summary>
    /// A worker's stop completed (the factory's <see cref="IWorkerFactory{TWorker}.StopAsync"/> returned, or threw:
    /// then <see cref="PoolEvent.Error"/> says how). Published exactly once for every worker that started, with the
    /// <see cref="PoolEvent.StopReason"/>; it follows the worker's <see cref="WorkerDied"/>, <see cref="WorkerKilled"/>,
    /// <see cref="WorkerRecycled"/> or <see cref="WorkerDismissed"/>, if it had one.
    /// </summary>
    WorkerStopped,

    /// <summary>Too many failures within the restart window: the pool entered backoff. <see cref="PoolEvent.Error"/> is the last failure.</summary>
    BackoffEntered,

    /// <summary>A start succeeded (or every slot holds a live worker): the pool left backoff.</summary>
    BackoffEnded,

    /// <summary>The pool's limits changed; <see cref="PoolEvent.Size"/>, <see cref="PoolEvent.MaxOverflow"/> and <see cref="PoolEvent.Source"/> say how and who asked.</summary>
    Resized,

    /// <summary><see cref="IPool.RecycleAll(string?)"/> was called: every current worker is to be retired, one at a time.</summary>
    RecycleRequested,

    /// <summary>The pool began to stop.</summary>
    PoolStopping,

    /// <summary>The pool stopped: every worker has been stopped. The last event of the pool; its subscriptions then complete.</summary>
    PoolStopped,
}
