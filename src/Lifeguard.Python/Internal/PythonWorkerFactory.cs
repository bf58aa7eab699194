namespace Lifeguard.Python;

/// <summary>Starts and stops Python workers for a pool, and retires those over the memory ceiling. Thread-safe.</summary>
internal sealed class PythonWorkerFactory(PythonWorkerSettings settings) : IWorkerFactory<PythonWorker>, IWorkerRecycler<PythonWorker>
{
    public async ValueTask<PythonWorker> StartAsync(WorkerContext context, CancellationToken cancellationToken)
        => await PythonWorker.StartAsync(settings, context, cancellationToken).ConfigureAwait(false);

    public ValueTask StopAsync(PythonWorker worker) => worker.DisposeAsync();

    public bool ShouldRetire(PythonWorker worker) => worker.ExceedsMemoryCeiling();
}
