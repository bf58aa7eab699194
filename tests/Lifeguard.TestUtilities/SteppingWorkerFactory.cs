namespace Lifeguard.Testing;

/// <summary>
/// Starts <see cref="FakeWorker"/>s one permit at a time: every start waits until the test calls <see cref="Release"/>,
/// so a test decides exactly when each worker comes up (a gate that opens for one start, not for all). Stops are
/// immediate. Counts are kept by <see cref="Inner"/>. Honours the pool's cancellation token. Thread-safe.
/// </summary>
public sealed class SteppingWorkerFactory : IWorkerFactory<FakeWorker>
{
    private readonly SemaphoreSlim _permits = new(0, int.MaxValue);
    private int _waiting;

    /// <summary>Does the starting, stopping and counting once a start has its permit.</summary>
    public FakeWorkerFactory Inner { get; } = new();

    /// <summary>Starts waiting for a permit right now.</summary>
    public int Waiting => Volatile.Read(ref _waiting);

    /// <summary>Lets <paramref name="count"/> starts (waiting now or coming later) proceed.</summary>
    public void Release(int count = 1) => _permits.Release(count);

    public async ValueTask<FakeWorker> StartAsync(WorkerContext context, CancellationToken cancellationToken)
    {
        Interlocked.Increment(ref _waiting);
        try
        {
            await _permits.WaitAsync(cancellationToken);
        }
        finally
        {
            Interlocked.Decrement(ref _waiting);
        }

        return await Inner.StartAsync(context, cancellationToken);
    }

    public ValueTask StopAsync(FakeWorker worker) => Inner.StopAsync(worker);
}
