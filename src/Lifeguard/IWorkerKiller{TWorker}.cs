namespace Lifeguard;

/// <summary>
/// Implemented by a worker factory whose workers can be killed outright (an operating-system process, say), for
/// <see cref="IPool.KillWorkerAsync"/>. Without it, a kill reports the worker terminated
/// (<see cref="WorkerContext.ReportTerminated"/>): the pool treats it as dead, stops it through
/// <see cref="IWorkerFactory{TWorker}.StopAsync"/> and replaces it.
/// </summary>
/// <typeparam name="TWorker">The worker type.</typeparam>
public interface IWorkerKiller<TWorker>
    where TWorker : class
{
    /// <summary>
    /// Kills <paramref name="worker"/> at once, without a graceful stop, and returns without waiting. The worker then
    /// reports its death through its <see cref="WorkerContext"/>, as for any crash, ideally with an exception that
    /// implements <see cref="IWorkerExitDetails"/>; if it has not within 5 seconds (by the pool's clock), the pool
    /// reports it terminated itself. Called outside the pool's lock; may be called while the worker is leased.
    /// </summary>
    void Kill(TWorker worker);
}
