using System.Diagnostics.CodeAnalysis;

namespace Lifeguard;

/// <summary>
/// Named pools, started, looked up and stopped by name (PoolToy's PoolsSup and Registry). Each pool is independent:
/// one pool's failure or stop never touches another. This is how to give separate priorities separate pools
/// (a "write" pool and a "read" pool, each with its own limits). Thread-safe.
/// </summary>
public sealed class PoolRegistry : IAsyncDisposable
{
    private readonly Lock _lock = new();
    private readonly Dictionary<string, IPool> _pools = new(StringComparer.Ordinal);
    private readonly HashSet<string> _starting = new(StringComparer.Ordinal);
    private readonly List<PoolEventSubscription> _subscriptions = [];
    private readonly List<EventLink> _links = [];
    private bool _disposed;

    /// <summary>The names of the running pools.</summary>
    public IReadOnlyCollection<string> Names
    {
        get
        {
            lock (_lock)
            {
                return [.. _pools.Keys];
            }
        }
    }

    /// <summary>The running pools, in no particular order: a snapshot, for enumerating (a dashboard's list, say).</summary>
    public IReadOnlyList<IPool> Pools
    {
        get
        {
            lock (_lock)
            {
                return [.. _pools.Values];
            }
        }
    }

    /// <summary>Starts a pool under <see cref="PoolOptions.Name"/> and registers it.</summary>
    /// <exception cref="InvalidOperationException">A pool of that name is registered or starting.</exception>
    public async Task<Pool<TWorker>> StartPoolAsync<TWorker>(
        PoolOptions options, IWorkerFactory<TWorker> factory, CancellationToken cancellationToken = default)
        where TWorker : class
    {
        ArgumentNullException.ThrowIfNull(options);
        var name = options.Name;
        lock (_lock)
        {
            ObjectDisposedException.ThrowIf(_disposed, this);
            if (_pools.ContainsKey(name) || !_starting.Add(name))
            {
                throw new InvalidOperationException($"A pool named '{name}' is already registered.");
            }
        }

        Pool<TWorker>? pool = null;
        try
        {
            pool = await Pool.StartAsync(options, factory, cancellationToken).ConfigureAwait(false);
            lock (_lock)
            {
                if (!_disposed)
                {
                    _pools.Add(name, pool);
                    LinkLocked(pool);
                    return pool;
                }
            }

            await pool.DisposeAsync().ConfigureAwait(false);
            throw new ObjectDisposedException(nameof(PoolRegistry));
        }
        finally
        {
            lock (_lock)
            {
                _starting.Remove(name);
            }
        }
    }

    /// <summary>Adds a pool that was started elsewhere. The registry stops it when it is removed or disposed.</summary>
    public void Add(IPool pool)
    {
        ArgumentNullException.ThrowIfNull(pool);
        lock (_lock)
        {
            ObjectDisposedException.ThrowIf(_disposed, this);
            if (_starting.Contains(pool.Name) || !_pools.TryAdd(pool.Name, pool))
            {
                throw new InvalidOperationException($"A pool named '{pool.Name}' is already registered.");
            }

            LinkLocked(pool);
        }
    }

    /// <summary>Looks a pool up by name.</summary>
    public bool TryGet(string name, [NotNullWhen(true)] out IPool? pool)
    {
        lock (_lock)
        {
            return _pools.TryGetValue(name, out pool);
        }
    }

    /// <summary>Looks a pool of a known worker type up by name.</summary>
    public bool TryGet<TWorker>(string name, [NotNullWhen(true)] out Pool<TWorker>? pool)
        where TWorker : class
    {
        pool = TryGet(name, out var found) ? found as Pool<TWorker> : null;
        return pool is not null;
    }

    /// <summary>Returns the pool of that name and worker type.</summary>
    /// <exception cref="KeyNotFoundException">No such pool, or it has another worker type.</exception>
    public Pool<TWorker> Get<TWorker>(string name)
        where TWorker : class
        => TryGet<TWorker>(name, out var pool)
            ? pool
            : throw new KeyNotFoundException($"No pool named '{name}' with workers of type {typeof(TWorker).Name} is registered.");

    /// <summary>Unregisters and stops the pool of that name. Returns whether there was one.</summary>
    public async Task<bool> StopPoolAsync(string name, CancellationToken cancellationToken = default)
    {
        IPool? pool;
        lock (_lock)
        {
            if (!_pools.Remove(name, out pool))
            {
                return false;
            }
        }

        try
        {
            await pool.StopAsync(cancellationToken).ConfigureAwait(false);
        }
        finally
        {
            // After the stop, so that registry subscribers see the pool's last events (PoolStopped).
            Unlink(pool);
        }

        return true;
    }

    /// <summary>
    /// Subscribes to the events of every pool in the registry: those registered now and those started or added
    /// later, until each is stopped through the registry (its <see cref="PoolEventKind.PoolStopped"/> included). One
    /// buffer of <paramref name="capacity"/> events serves all of them, as for <see cref="IPool.SubscribeToEvents"/>:
    /// the oldest are dropped, and counted, when the reader falls behind; <see cref="PoolEvent.Sequence"/> is per
    /// pool. The subscription completes when it or the registry is disposed.
    /// </summary>
    /// <param name="capacity">The subscription's buffer, in events; at least 1.</param>
    /// <exception cref="ArgumentOutOfRangeException"><paramref name="capacity"/> is less than 1.</exception>
    public PoolEventSubscription SubscribeToEvents(int capacity = PoolEventSubscription.DefaultCapacity)
    {
        var subscription = new PoolEventSubscription(capacity, completesWithPool: false);
        lock (_lock)
        {
            if (_disposed)
            {
                subscription.Complete();
                return subscription;
            }

            _subscriptions.Add(subscription);
            foreach (var pool in _pools.Values)
            {
                LinkLocked(pool, subscription);
            }

            subscription.SetDetach(Unsubscribe);
        }

        return subscription;
    }

    /// <summary>Status snapshots of every pool, by name.</summary>
    public IReadOnlyDictionary<string, PoolStatus> GetStatuses()
    {
        IPool[] pools;
        lock (_lock)
        {
            pools = [.. _pools.Values];
        }

        return pools.ToDictionary(p => p.Name, p => p.GetStatus(), StringComparer.Ordinal);
    }

    /// <summary>Stops every pool, concurrently; one pool's failure to stop does not keep the others running.</summary>
    public async ValueTask DisposeAsync()
    {
        IPool[] pools;
        lock (_lock)
        {
            _disposed = true;
            pools = [.. _pools.Values];
            _pools.Clear();
        }

        // Each stop is awaited inside its own async call, so one that throws at once cannot keep the others from
        // starting; every failure is reported together once all have ended.
        try
        {
            await Task.WhenAll(pools.Select(StopOneAsync)).ConfigureAwait(false);
        }
        finally
        {
            PoolEventSubscription[] subscriptions;
            lock (_lock)
            {
                subscriptions = [.. _subscriptions];
                _subscriptions.Clear();
            }

            foreach (var subscription in subscriptions)
            {
                subscription.Dispose();
            }
        }
    }

    private static async Task StopOneAsync(IPool pool) => await pool.StopAsync().ConfigureAwait(false);

    private void LinkLocked(IPool pool)
    {
        foreach (var subscription in _subscriptions)
        {
            LinkLocked(pool, subscription);
        }
    }

    /// <summary>
    /// Lifeguard's own pools take the subscription directly; any other <see cref="IPool"/> gets a subscription of its
    /// own, forwarded (a pool that cannot be subscribed to is left out, rather than fail its registration).
    /// </summary>
    private void LinkLocked(IPool pool, PoolEventSubscription subscription)
    {
        if (pool is IPoolEventSource source)
        {
            if (source.EventHub.Attach(subscription))
            {
                _links.Add(new EventLink(pool, subscription, null));
            }

            return;
        }

        PoolEventSubscription inner;
        try
        {
            inner = pool.SubscribeToEvents(subscription.Capacity);
        }
        catch (Exception e) when (e is NotSupportedException or NotImplementedException or InvalidOperationException)
        {
            return;
        }

        _links.Add(new EventLink(pool, subscription, inner));
        _ = ForwardAsync(inner, subscription);
    }

    private static async Task ForwardAsync(PoolEventSubscription inner, PoolEventSubscription outer)
    {
        long dropped = 0;
        await foreach (var e in inner.Reader.ReadAllAsync().ConfigureAwait(false))
        {
            outer.Write(e);
            long now = inner.DroppedCount;
            if (now != dropped)
            {
                outer.AddDropped(now - dropped);
                dropped = now;
            }
        }
    }

    private void Unlink(IPool pool) => UnlinkWhere(link => ReferenceEquals(link.Pool, pool));

    private void Unsubscribe(PoolEventSubscription subscription)
    {
        lock (_lock)
        {
            _subscriptions.Remove(subscription);
        }

        UnlinkWhere(link => ReferenceEquals(link.Subscription, subscription));
    }

    private void UnlinkWhere(Predicate<EventLink> match)
    {
        List<EventLink> removed;
        lock (_lock)
        {
            removed = _links.FindAll(match);
            _links.RemoveAll(match);
        }

        foreach (var link in removed)
        {
            if (link.Forwarded is { } inner)
            {
                inner.Dispose();
            }
            else
            {
                ((IPoolEventSource)link.Pool).EventHub.Detach(link.Subscription);
            }
        }
    }

    private sealed record EventLink(IPool Pool, PoolEventSubscription Subscription, PoolEventSubscription? Forwarded);
}
