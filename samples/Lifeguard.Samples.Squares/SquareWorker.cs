namespace Lifeguard.Samples.Squares;

/// <summary>
/// A deliberately slow, scarce worker: squaring a number takes <see cref="WorkTime"/>, like the slow square of the
/// poolboy article. It can crash, reporting its own death to the pool as a real process would.
/// </summary>
public sealed class SquareWorker(WorkerContext context, TimeSpan workTime) : IWorkerStatusProvider
{
    private int _served;

    public TimeSpan WorkTime { get; } = workTime;

    public int Id => context.WorkerId;

    public async Task<long> SquareAsync(long x, CancellationToken cancellationToken = default)
    {
        await Task.Delay(WorkTime, cancellationToken);
        Interlocked.Increment(ref _served);
        return x * x;
    }

    /// <summary>Simulates a crash: the pool removes this worker and starts a replacement.</summary>
    public void Crash() => context.ReportTerminated(new InvalidOperationException($"square worker {Id} crashed"));

    public void AddStatusDetails(IDictionary<string, object?> details) => details["served"] = Volatile.Read(ref _served);
}
