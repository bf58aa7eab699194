namespace Lifeguard.Testing;

/// <summary>An in-memory worker for pool tests. Thread-safe.</summary>
public sealed class FakeWorker : IWorkerStatusProvider
{
    private int _stopCount;

    public FakeWorker(WorkerContext context) => Context = context;

    public WorkerContext Context { get; }

    public int Id => Context.WorkerId;

    /// <summary>What validation at checkout answers (for <see cref="ValidatingFakeWorkerFactory"/>).</summary>
    public bool Healthy { get; set; } = true;

    public int StopCount => Volatile.Read(ref _stopCount);

    public bool IsStopped => StopCount > 0;

    /// <summary>How many calls of <see cref="SquareAsync"/> it served.</summary>
    public int Calls { get; private set; }

    /// <summary>Reports to the pool that this worker died, as a crashed process would.</summary>
    public void Die(Exception? reason = null) => Context.ReportTerminated(reason);

    public async Task<int> SquareAsync(int x, CancellationToken cancellationToken = default)
    {
        ObjectDisposedException.ThrowIf(IsStopped, this);
        await Task.Yield();
        cancellationToken.ThrowIfCancellationRequested();
        Calls++;
        return x * x;
    }

    public void AddStatusDetails(IDictionary<string, object?> details) => details["fake.calls"] = Calls;

    internal void Stop() => Interlocked.Increment(ref _stopCount);
}
