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
    /// Retires every current worker, e.g. after new code was deployed: idle workers are replaced one at a time,
    /// busy ones at their checkin; none is retired while callers wait.
    /// </summary>
    void RecycleAll();

    /// <summary>
    /// Stops the pool: new checkouts and waiters fail with <see cref="PoolStoppedException"/>, idle workers stop,
    /// leased ones are awaited up to <see cref="PoolOptions.DrainTimeout"/>, then every worker left is stopped.
    /// Idempotent; <paramref name="cancellationToken"/> only stops the wait.
    /// </summary>
    Task StopAsync(CancellationToken cancellationToken = default);
}
