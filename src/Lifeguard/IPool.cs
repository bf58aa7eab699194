namespace Lifeguard;

/// <summary>What every pool offers whatever its worker type: identity, status, limits and stopping.</summary>
public interface IPool : IAsyncDisposable
{
    /// <summary>The pool's name.</summary>
    string Name { get; }

    /// <summary>The worker type.</summary>
    Type WorkerType { get; }

    /// <summary>A consistent snapshot of the pool's state, counts and workers.</summary>
    PoolStatus GetStatus();

    /// <summary>
    /// Changes <see cref="PoolOptions.Size"/> and <see cref="PoolOptions.MaxOverflow"/> of the running pool. Growing
    /// starts workers in the background; shrinking dismisses surplus idle workers now (or after the overflow
    /// cooldown) and busy ones when they are checked in.
    /// </summary>
    void Resize(int size, int maxOverflow);

    /// <summary>
    /// As <see cref="Resize(int, int)"/>, saying who asked: <paramref name="source"/> (e.g. <c>"configuration"</c>,
    /// <c>"dashboard"</c>) is the <see cref="PoolEvent.Source"/> of the <see cref="PoolEventKind.Resized"/> event.
    /// </summary>
    /// <exception cref="ArgumentOutOfRangeException">The limits are invalid.</exception>
    /// <exception cref="PoolStoppedException">The pool is stopping or stopped.</exception>
    void Resize(int size, int maxOverflow, string? source);

    /// <summary>
    /// Retires every current worker, e.g. after new code was deployed: idle workers are replaced one at a time,
    /// busy ones at their checkin; none is retired while callers wait.
    /// </summary>
    void RecycleAll();

    /// <summary>
    /// As <see cref="RecycleAll()"/>, saying who asked: <paramref name="source"/> is the <see cref="PoolEvent.Source"/>
    /// of the <see cref="PoolEventKind.RecycleRequested"/> event.
    /// </summary>
    /// <exception cref="PoolStoppedException">The pool is stopping or stopped.</exception>
    void RecycleAll(string? source);

    /// <summary>
    /// Kills one worker at once, by its <see cref="WorkerStatus.Id"/>, idle or leased, and completes when it has left
    /// the pool. A worker whose factory implements <see cref="IWorkerKiller{TWorker}"/> is killed its own way (a
    /// Python worker's process gets SIGKILL); any other is reported terminated. Either way the pool treats it as dead:
    /// it is stopped through the factory and replaced as after any death (for a waiting caller, or to keep
    /// <see cref="PoolOptions.Size"/> workers), but it counts towards neither <see cref="PoolStatus.TotalDeaths"/> nor
    /// the restart intensity. A leased worker's lease becomes a no-op to dispose; what its holder is running is not
    /// interrupted by the pool (a Python call fails with <c>PythonWorkerCrashedException</c>, since its process is
    /// gone). Publishes <see cref="PoolEventKind.WorkerKilled"/> with <paramref name="source"/>.
    /// </summary>
    /// <param name="workerId">The worker's id, as in <see cref="PoolStatus.Workers"/> and <see cref="PoolEvent.WorkerId"/>.</param>
    /// <param name="source">Who asked, for the event and the log; <see langword="null"/> for nobody in particular.</param>
    /// <param name="cancellationToken">Stops the wait for the worker to leave; the kill itself goes on.</param>
    /// <returns>
    /// <see cref="WorkerKillResult.Killed"/>; <see cref="WorkerKillResult.NotFound"/> for an id no live worker has;
    /// <see cref="WorkerKillResult.PoolStopped"/> when the pool is stopping (it stops every worker itself).
    /// </returns>
    Task<WorkerKillResult> KillWorkerAsync(int workerId, string? source = null, CancellationToken cancellationToken = default);

    /// <summary>
    /// Subscribes to the pool's events (<see cref="PoolEvent"/>): workers started, died, killed, recycled, dismissed
    /// and stopped, backoff, resizes, the pool's stop. Dispose the subscription to unsubscribe. Publishing never
    /// blocks or slows the pool: each subscription buffers up to <paramref name="capacity"/> events and drops the
    /// oldest when its reader falls behind (<see cref="PoolEventSubscription.DroppedCount"/>). Events from before
    /// the call are not replayed: take a <see cref="GetStatus"/> snapshot after subscribing to start from. The
    /// subscription completes after <see cref="PoolEventKind.PoolStopped"/>; on a stopped pool it is complete at once.
    /// </summary>
    /// <param name="capacity">The subscription's buffer, in events; at least 1.</param>
    /// <exception cref="ArgumentOutOfRangeException"><paramref name="capacity"/> is less than 1.</exception>
    PoolEventSubscription SubscribeToEvents(int capacity = PoolEventSubscription.DefaultCapacity);

    /// <summary>
    /// Stops the pool: new checkouts and waiters fail with <see cref="PoolStoppedException"/>, idle workers stop,
    /// leased ones are awaited up to <see cref="PoolOptions.DrainTimeout"/>, then every worker left is stopped.
    /// Idempotent; <paramref name="cancellationToken"/> only stops the wait.
    /// </summary>
    Task StopAsync(CancellationToken cancellationToken = default);
}
