namespace Lifeguard;

/// <summary>
/// Starts and stops the workers of a pool. Called concurrently from any thread; an implementation must be
/// thread-safe. Optionally implement <see cref="IWorkerValidator{TWorker}"/> to have workers checked at checkout.
/// </summary>
/// <typeparam name="TWorker">The worker type.</typeparam>
public interface IWorkerFactory<TWorker>
    where TWorker : class
{
    /// <summary>
    /// Starts one worker. Throwing (or returning a faulted task) is a start failure: it counts towards the pool's
    /// restart intensity, and the caller that needed the worker gets a <see cref="WorkerStartException"/>.
    /// </summary>
    /// <param name="context">This worker's identity in the pool, and the way to report that it died.</param>
    /// <param name="cancellationToken">Fires when the pool stops.</param>
    ValueTask<TWorker> StartAsync(WorkerContext context, CancellationToken cancellationToken);

    /// <summary>Stops and releases one worker. Called exactly once for every worker that started.</summary>
    ValueTask StopAsync(TWorker worker);
}
