namespace Lifeguard;

/// <summary>
/// Implemented by a worker factory whose workers should be checked before each checkout. A worker that fails the
/// check (returns <see langword="false"/> or throws) is dropped and replaced, never handed out. Keep it cheap and,
/// where possible, synchronous: it runs on every checkout.
/// </summary>
/// <typeparam name="TWorker">The worker type.</typeparam>
public interface IWorkerValidator<TWorker>
    where TWorker : class
{
    /// <summary>Returns whether <paramref name="worker"/> may be handed out.</summary>
    ValueTask<bool> ValidateAsync(TWorker worker, CancellationToken cancellationToken);
}
