namespace Lifeguard.Python;

/// <summary>Starts, stops and kills Python workers for a pool, and retires those over the memory ceiling. Thread-safe.</summary>
/// <param name="settings">The pool's settings.</param>
/// <param name="forkServer">The pool's fork server, which forks workers while it is up; null to spawn every worker.</param>
internal sealed class PythonWorkerFactory(PythonWorkerSettings settings, ForkServer? forkServer = null) : IWorkerFactory<PythonWorker>, IWorkerRecycler<PythonWorker>, IWorkerKiller<PythonWorker>
{
    public async ValueTask<PythonWorker> StartAsync(WorkerContext context, CancellationToken cancellationToken)
        => await PythonWorker.StartAsync(settings, context, cancellationToken, forkServer).ConfigureAwait(false);

    public ValueTask StopAsync(PythonWorker worker) => worker.DisposeAsync();

    public bool ShouldRetire(PythonWorker worker) => worker.ExceedsMemoryCeiling();

    /// <summary>SIGKILL to the process, by the pid it holds; its exit is reported to the pool with the exit code and output.</summary>
    public void Kill(PythonWorker worker) => worker.Kill();
}
