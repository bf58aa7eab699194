using System.Collections.Concurrent;

namespace Lifeguard.Testing;

/// <summary>
/// Starts <see cref="FakeWorker"/>s and records everything: starts, failures, stops. Starts can be made to fail or
/// to wait on a gate, so tests control exactly when a worker comes up. Thread-safe.
/// </summary>
public class FakeWorkerFactory : IWorkerFactory<FakeWorker>
{
    private readonly ConcurrentQueue<FakeWorker> _all = new();
    private int _startAttempts;
    private int _failedStarts;
    private int _stops;
    private volatile TaskCompletionSource? _gate;

    /// <summary>Decides, by 1-based attempt number, whether a start throws. Null: never.</summary>
    public Func<int, Exception?>? FailStart { get; set; }

    /// <summary>Every worker ever started.</summary>
    public IReadOnlyCollection<FakeWorker> All => _all;

    public int StartAttempts => Volatile.Read(ref _startAttempts);

    public int FailedStarts => Volatile.Read(ref _failedStarts);

    public int Started => _all.Count;

    public int Stops => Volatile.Read(ref _stops);

    /// <summary>Workers started and not stopped.</summary>
    public int Running => Started - Stops;

    /// <summary>Starts from now on wait until <see cref="OpenGate"/>.</summary>
    public void CloseGate() => _gate = new TaskCompletionSource(TaskCreationOptions.RunContinuationsAsynchronously);

    public void OpenGate() => Interlocked.Exchange(ref _gate, null)?.TrySetResult();

    public async ValueTask<FakeWorker> StartAsync(WorkerContext context, CancellationToken cancellationToken)
    {
        int attempt = Interlocked.Increment(ref _startAttempts);
        if (_gate is { } gate)
        {
            await gate.Task.WaitAsync(cancellationToken);
        }

        if (FailStart?.Invoke(attempt) is { } error)
        {
            Interlocked.Increment(ref _failedStarts);
            throw error;
        }

        var worker = new FakeWorker(context);
        _all.Enqueue(worker);
        return worker;
    }

    public ValueTask StopAsync(FakeWorker worker)
    {
        worker.Stop();
        Interlocked.Increment(ref _stops);
        return default;
    }

    /// <summary>Waits, polling with a bound, until <paramref name="condition"/> holds.</summary>
    public static async Task WaitUntilAsync(Func<bool> condition, string what, int timeoutMs = 10_000)
    {
        var deadline = Environment.TickCount64 + timeoutMs;
        while (!condition())
        {
            if (Environment.TickCount64 > deadline)
            {
                throw new TimeoutException($"Timed out after {timeoutMs} ms waiting until {what}.");
            }

            await Task.Delay(1);
        }
    }
}

/// <summary>A <see cref="FakeWorkerFactory"/> whose workers are validated at every checkout.</summary>
public sealed class ValidatingFakeWorkerFactory : FakeWorkerFactory, IWorkerValidator<FakeWorker>
{
    public int Validations { get; private set; }

    public ValueTask<bool> ValidateAsync(FakeWorker worker, CancellationToken cancellationToken)
    {
        Validations++;
        return new(worker.Healthy);
    }
}
