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

        await pool.StopAsync(cancellationToken).ConfigureAwait(false);
        return true;
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
        await Task.WhenAll(pools.Select(StopOneAsync)).ConfigureAwait(false);
    }

    private static async Task StopOneAsync(IPool pool) => await pool.StopAsync().ConfigureAwait(false);
}
