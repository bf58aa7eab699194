namespace Lifeguard.Testing;

/// <summary>Reading a subscription in tests, every wait bounded (10 s by default), never by sleeping.</summary>
public static class PoolEvents
{
    private static readonly TimeSpan Bound = TimeSpan.FromSeconds(10);

    /// <summary>Reads events until <paramref name="done"/> holds for the latest (given all read so far); returns them all.</summary>
    public static async Task<IReadOnlyList<PoolEvent>> ReadUntilAsync(this PoolEventSubscription subscription, Func<PoolEvent, IReadOnlyList<PoolEvent>, bool> done)
    {
        using var timeout = new CancellationTokenSource(Bound);
        var seen = new List<PoolEvent>();
        try
        {
            while (true)
            {
                var e = await subscription.Reader.ReadAsync(timeout.Token);
                seen.Add(e);
                if (done(e, seen))
                {
                    return seen;
                }
            }
        }
        catch (OperationCanceledException e) when (timeout.IsCancellationRequested)
        {
            throw new TimeoutException($"No matching event within {Bound}; saw:\n{string.Join('\n', seen)}", e);
        }
    }

    public static Task<IReadOnlyList<PoolEvent>> ReadUntilAsync(this PoolEventSubscription subscription, Func<PoolEvent, bool> done)
        => subscription.ReadUntilAsync((e, _) => done(e));

    /// <summary>Reads until every kind in <paramref name="kinds"/> has been seen at least once.</summary>
    public static Task<IReadOnlyList<PoolEvent>> ReadUntilAllAsync(this PoolEventSubscription subscription, params PoolEventKind[] kinds)
        => subscription.ReadUntilAsync((_, all) => kinds.All(k => all.Any(e => e.Kind == k)));

    /// <summary>The next event of <paramref name="kind"/>, skipping others.</summary>
    public static async Task<PoolEvent> NextAsync(this PoolEventSubscription subscription, PoolEventKind kind)
        => (await subscription.ReadUntilAsync(e => e.Kind == kind))[^1];

    /// <summary>Every event until the subscription completes.</summary>
    public static async Task<IReadOnlyList<PoolEvent>> ReadAllAsync(this PoolEventSubscription subscription)
    {
        using var timeout = new CancellationTokenSource(Bound);
        var seen = new List<PoolEvent>();
        await foreach (var e in subscription.Reader.ReadAllAsync(timeout.Token))
        {
            seen.Add(e);
        }

        return seen;
    }

    /// <summary>What is buffered right now, without waiting.</summary>
    public static Task<IReadOnlyList<PoolEvent>> DrainAsync(this PoolEventSubscription subscription)
    {
        var seen = new List<PoolEvent>();
        while (subscription.Reader.TryRead(out var e))
        {
            seen.Add(e);
        }

        return Task.FromResult<IReadOnlyList<PoolEvent>>(seen);
    }
}

/// <summary>A death report with exit details, as a process worker would make it.</summary>
public sealed class ProcessCrash(string message, int? exitCode, int? signal, IReadOnlyList<string> tail) : Exception(message), IWorkerExitDetails
{
    public int? ExitCode { get; } = exitCode;

    public int? Signal { get; } = signal;

    public IReadOnlyList<string> OutputTail { get; } = tail;
}

/// <summary>A <see cref="Microsoft.Extensions.Time.Testing.FakeTimeProvider"/> that counts wall-clock and timestamp reads. Thread-safe.</summary>
public sealed class CountingTimeProvider : TimeProvider
{
    private readonly Microsoft.Extensions.Time.Testing.FakeTimeProvider _inner = new();
    private int _utcNowReads;
    private int _timestampReads;

    public int UtcNowReads => Volatile.Read(ref _utcNowReads);

    public int TimestampReads => Volatile.Read(ref _timestampReads);

    public override DateTimeOffset GetUtcNow()
    {
        Interlocked.Increment(ref _utcNowReads);
        return _inner.GetUtcNow();
    }

    public override long GetTimestamp()
    {
        Interlocked.Increment(ref _timestampReads);
        return _inner.GetTimestamp();
    }

    public override long TimestampFrequency => _inner.TimestampFrequency;

    public override ITimer CreateTimer(TimerCallback callback, object? state, TimeSpan dueTime, TimeSpan period)
        => _inner.CreateTimer(callback, state, dueTime, period);

    public void Advance(TimeSpan delta) => _inner.Advance(delta);
}
