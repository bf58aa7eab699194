namespace Lifeguard;

/// <summary>Builds <see cref="IWorkerFactory{TWorker}"/> instances from delegates.</summary>
public static class WorkerFactory
{
    /// <summary>
    /// A factory that starts workers with <paramref name="start"/> and stops them with <paramref name="stop"/>
    /// (default: <see cref="IAsyncDisposable.DisposeAsync"/> or <see cref="IDisposable.Dispose"/> when the worker
    /// implements one). With <paramref name="validate"/>, every checkout checks the worker first.
    /// </summary>
    public static IWorkerFactory<TWorker> Create<TWorker>(
        Func<WorkerContext, CancellationToken, ValueTask<TWorker>> start,
        Func<TWorker, ValueTask>? stop = null,
        Func<TWorker, CancellationToken, ValueTask<bool>>? validate = null)
        where TWorker : class
    {
        ArgumentNullException.ThrowIfNull(start);
        return validate is null
            ? new DelegateWorkerFactory<TWorker>(start, stop)
            : new ValidatingDelegateWorkerFactory<TWorker>(start, stop, validate);
    }

    /// <summary>A factory that starts workers with <paramref name="start"/>, which ignores the worker's context.</summary>
    public static IWorkerFactory<TWorker> Create<TWorker>(
        Func<CancellationToken, ValueTask<TWorker>> start,
        Func<TWorker, ValueTask>? stop = null)
        where TWorker : class
    {
        ArgumentNullException.ThrowIfNull(start);
        return new DelegateWorkerFactory<TWorker>((_, ct) => start(ct), stop);
    }

    internal static async ValueTask DefaultStopAsync<TWorker>(TWorker worker)
    {
        switch (worker)
        {
            case IAsyncDisposable asyncDisposable:
                await asyncDisposable.DisposeAsync().ConfigureAwait(false);
                break;
            case IDisposable disposable:
                disposable.Dispose();
                break;
        }
    }

    private class DelegateWorkerFactory<TWorker>(
        Func<WorkerContext, CancellationToken, ValueTask<TWorker>> start,
        Func<TWorker, ValueTask>? stop) : IWorkerFactory<TWorker>
        where TWorker : class
    {
        public ValueTask<TWorker> StartAsync(WorkerContext context, CancellationToken cancellationToken)
            => start(context, cancellationToken);

        public ValueTask StopAsync(TWorker worker) => stop is null ? DefaultStopAsync(worker) : stop(worker);
    }

    private sealed class ValidatingDelegateWorkerFactory<TWorker>(
        Func<WorkerContext, CancellationToken, ValueTask<TWorker>> start,
        Func<TWorker, ValueTask>? stop,
        Func<TWorker, CancellationToken, ValueTask<bool>> validate)
        : DelegateWorkerFactory<TWorker>(start, stop), IWorkerValidator<TWorker>
        where TWorker : class
    {
        public ValueTask<bool> ValidateAsync(TWorker worker, CancellationToken cancellationToken)
            => validate(worker, cancellationToken);
    }
}
