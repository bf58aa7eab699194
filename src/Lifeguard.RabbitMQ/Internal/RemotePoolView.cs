namespace Lifeguard.RabbitMQ.Internal;

/// <summary>
/// A <see cref="RemotePythonPool"/> as a <see cref="PoolRegistry"/> entry, so that what lists the registry's pools (the
/// dashboard, say) shows the remote pool and the hosts serving it: one worker row per host. Only the hosts can size,
/// recycle or kill, so those operations throw <see cref="NotSupportedException"/>. Stopping or disposing the view
/// unregisters it and ends its event subscriptions; the remote pool itself belongs to whoever started it. Thread-safe.
/// </summary>
internal sealed class RemotePoolView(RemotePythonPool pool) : IPool
{
    private readonly Lock _lock = new();
    private readonly List<PoolEventSubscription> _subscriptions = [];
    private bool _stopped;

    public string Name => pool.Name;

    /// <summary>Each "worker" of a remote pool is a host.</summary>
    public Type WorkerType => typeof(RemoteHostStatus);

    public PoolStatus GetStatus() => pool.GetStatus();

    public void Resize(int size, int maxOverflow) => Resize(size, maxOverflow, null);

    public void Resize(int size, int maxOverflow, string? source) => throw NotHere("resized");

    public void RecycleAll() => RecycleAll(null);

    public void RecycleAll(string? source) => throw NotHere("recycled");

    public Task<WorkerKillResult> KillWorkerAsync(int workerId, string? source = null, CancellationToken cancellationToken = default)
        => Task.FromException<WorkerKillResult>(NotHere("killed worker by worker"));

    /// <summary>A remote pool publishes no pool events here: its hosts' pools publish their own.</summary>
    public PoolEventSubscription SubscribeToEvents(int capacity = PoolEventSubscription.DefaultCapacity)
    {
        var subscription = new PoolEventSubscription(capacity, completesWithPool: true);
        lock (_lock)
        {
            if (!_stopped)
            {
                _subscriptions.Add(subscription);
                return subscription;
            }
        }

        subscription.Complete();
        return subscription;
    }

    public Task StopAsync(CancellationToken cancellationToken = default)
    {
        PoolEventSubscription[] subscriptions;
        lock (_lock)
        {
            _stopped = true;
            subscriptions = [.. _subscriptions];
            _subscriptions.Clear();
        }

        foreach (var subscription in subscriptions)
        {
            subscription.Complete();
        }

        return Task.CompletedTask;
    }

    public ValueTask DisposeAsync() => new(StopAsync());

    private NotSupportedException NotHere(string what) => new(
        $"Remote Python pool '{Name}' cannot be {what} from a caller: only its hosts can, each sizing and supervising its " +
        "own workers (lifeguard serve --size and --max-overflow, or the served pool's options).");
}
