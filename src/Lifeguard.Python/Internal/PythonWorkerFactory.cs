namespace Lifeguard.Python;

/// <summary>Starts, stops and kills Python workers for a pool, and retires those over the memory ceiling. Thread-safe.</summary>
/// <param name="settings">The pool's settings.</param>
/// <param name="forkServer">The pool's fork server, which forks workers while it is up; null to spawn every worker.</param>
internal class PythonWorkerFactory(PythonWorkerSettings settings, ForkServer? forkServer = null) : IWorkerFactory<PythonWorker>, IWorkerRecycler<PythonWorker>, IWorkerKiller<PythonWorker>
{
    /// <summary>
    /// The factory for a pool's options: one that pings idle workers when <see cref="PoolOptions.IdleCheckAfter"/> is
    /// set. Only then is it a validator, since the pool runs a validator on every checkout when idle checks are off.
    /// </summary>
    public static PythonWorkerFactory For(PoolOptions options, PythonWorkerSettings settings, ForkServer? forkServer)
        => options.IdleCheckAfter is null ? new PythonWorkerFactory(settings, forkServer) : new Pinging(settings, forkServer);

    public async ValueTask<PythonWorker> StartAsync(WorkerContext context, CancellationToken cancellationToken)
        => await PythonWorker.StartAsync(settings, context, cancellationToken, forkServer).ConfigureAwait(false);

    public ValueTask StopAsync(PythonWorker worker) => worker.DisposeAsync();

    public bool ShouldRetire(PythonWorker worker) => worker.ExceedsMemoryCeiling();

    /// <summary>SIGKILL to the process, by the pid it holds; its exit is reported to the pool with the exit code and output.</summary>
    public void Kill(PythonWorker worker) => worker.Kill();

    /// <summary>Checks an idle worker with a ping (<see cref="PythonWorker.PingAsync"/>) before the pool hands it out.</summary>
    private sealed class Pinging(PythonWorkerSettings settings, ForkServer? forkServer) : PythonWorkerFactory(settings, forkServer), IWorkerValidator<PythonWorker>
    {
        public ValueTask<bool> ValidateAsync(PythonWorker worker, CancellationToken cancellationToken) => worker.PingAsync(cancellationToken);
    }
}
