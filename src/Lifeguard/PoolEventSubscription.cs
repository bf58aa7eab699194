using System.Threading.Channels;

namespace Lifeguard;

/// <summary>
/// One subscriber's view of a pool's events (<see cref="IPool.SubscribeToEvents"/>) or of every pool in a registry
/// (<see cref="PoolRegistry.SubscribeToEvents"/>): read them from <see cref="Reader"/>, e.g.
/// <c>await foreach (var e in subscription.Reader.ReadAllAsync(ct))</c>. Dispose it to unsubscribe. Thread-safe.
/// </summary>
/// <remarks>
/// <para>
/// Publishing never waits for a subscriber: each subscription has its own buffer of <see cref="Capacity"/> events.
/// When a subscriber reads too slowly and its buffer is full, the oldest buffered event is dropped to make room, and
/// counted in <see cref="DroppedCount"/>; a gap in a pool's <see cref="PoolEvent.Sequence"/> shows where. The pool
/// itself is never slowed or blocked, and a subscriber's code never runs on the pool's threads.
/// </para>
/// <para>
/// A pool's subscription completes after the pool's <see cref="PoolEventKind.PoolStopped"/> event; a registry's when
/// the registry is disposed. Either completes when disposed. Events already buffered can still be read after that.
/// </para>
/// </remarks>
public sealed class PoolEventSubscription : IDisposable, IAsyncDisposable
{
    /// <summary>The buffer size used when none is given: 1024 events.</summary>
    public const int DefaultCapacity = 1024;

    private readonly Channel<PoolEvent> _channel;
    private Action<PoolEventSubscription>? _detach;
    private long _dropped;

    internal PoolEventSubscription(int capacity, bool completesWithPool)
    {
        ArgumentOutOfRangeException.ThrowIfLessThan(capacity, 1);
        Capacity = capacity;
        CompletesWithPool = completesWithPool;
        _channel = Channel.CreateBounded<PoolEvent>(
            new BoundedChannelOptions(capacity)
            {
                FullMode = BoundedChannelFullMode.DropOldest,
                SingleReader = false,
                SingleWriter = false,

                // A waiting reader's continuation must never run on the publishing thread (a pool's).
                AllowSynchronousContinuations = false,
            },
            _ => Interlocked.Increment(ref _dropped));
    }

    /// <summary>The events, in publication order (per pool, by <see cref="PoolEvent.Sequence"/>).</summary>
    public ChannelReader<PoolEvent> Reader => _channel.Reader;

    /// <summary>How many events this subscriber lost because its buffer was full (the oldest go first).</summary>
    public long DroppedCount => Volatile.Read(ref _dropped);

    /// <summary>How many events the buffer holds before the oldest are dropped.</summary>
    public int Capacity { get; }

    /// <summary>Whether the subscription ends with its pool (a pool's) or only when disposed (a registry's).</summary>
    internal bool CompletesWithPool { get; }

    /// <summary>Unsubscribes: no more events arrive, and <see cref="Reader"/> completes once the buffered ones are read.</summary>
    public void Dispose()
    {
        Interlocked.Exchange(ref _detach, null)?.Invoke(this);
        Complete();
    }

    /// <summary>As <see cref="Dispose"/>; completes synchronously.</summary>
    public ValueTask DisposeAsync()
    {
        Dispose();
        return default;
    }

    internal void SetDetach(Action<PoolEventSubscription> detach) => Volatile.Write(ref _detach, detach);

    /// <summary>Buffers an event; drops the oldest when full. Never blocks, never runs the subscriber's code.</summary>
    internal void Write(PoolEvent e) => _channel.Writer.TryWrite(e);

    internal void AddDropped(long count) => Interlocked.Add(ref _dropped, count);

    internal void Complete() => _channel.Writer.TryComplete();
}
