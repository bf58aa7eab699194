namespace Lifeguard;

/// <summary>
/// Implemented by a worker factory whose workers should be checked before they are handed out. A worker that fails the
/// check (returns <see langword="false"/> or throws) is dropped and replaced, never handed out. By default the check
/// runs on every checkout, without a time limit: keep it cheap and, where possible, synchronous. With
/// <see cref="PoolOptions.IdleCheckAfter"/> set, it runs only for a worker idle longer than that, and must answer
/// within <see cref="PoolOptions.IdleCheckTimeout"/> (its token fires then; a check that has not answered counts as
/// failed, token or not).
/// </summary>
/// <typeparam name="TWorker">The worker type.</typeparam>
public interface IWorkerValidator<TWorker>
    where TWorker : class
{
    /// <summary>Returns whether <paramref name="worker"/> may be handed out.</summary>
    ValueTask<bool> ValidateAsync(TWorker worker, CancellationToken cancellationToken);
}
