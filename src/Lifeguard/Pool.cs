namespace Lifeguard;

/// <summary>Starts pools.</summary>
public static class Pool
{
    /// <summary>
    /// Validates <paramref name="options"/>, starts <see cref="PoolOptions.Size"/> workers in parallel and returns the
    /// ready pool. If any worker fails to start, the others are stopped and this throws that failure.
    /// </summary>
    /// <exception cref="ArgumentException">The options are invalid; the message names every offending value.</exception>
    /// <exception cref="WorkerStartException">A base worker failed to start.</exception>
    public static async Task<Pool<TWorker>> StartAsync<TWorker>(
        PoolOptions options, IWorkerFactory<TWorker> factory, CancellationToken cancellationToken = default)
        where TWorker : class
    {
        ArgumentNullException.ThrowIfNull(options);
        ArgumentNullException.ThrowIfNull(factory);
        options.Validate();
        var core = new PoolCore<TWorker>(options.Clone(), factory);
        await core.FillAsync(cancellationToken).ConfigureAwait(false);
        return new Pool<TWorker>(core);
    }
}
