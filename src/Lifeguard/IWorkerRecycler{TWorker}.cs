namespace Lifeguard;

/// <summary>
/// Implemented by a worker factory that decides, at each checkin, whether a worker should be retired (its memory
/// has grown too large, say). A retired worker is stopped and replaced in the background, like one that reached
/// <see cref="PoolOptions.MaxUsesPerWorker"/>, and never while callers wait. Called outside the pool's lock, on the
/// thread that checks in; keep it cheap and thread-safe.
/// </summary>
/// <typeparam name="TWorker">The worker type.</typeparam>
public interface IWorkerRecycler<TWorker>
    where TWorker : class
{
    /// <summary>Returns whether <paramref name="worker"/>, just checked in, should be retired.</summary>
    bool ShouldRetire(TWorker worker);
}
