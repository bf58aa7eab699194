using Microsoft.Extensions.DependencyInjection;

namespace Lifeguard.Hosting.Internal;

/// <summary>
/// The pools added to one service collection, in the order they were added; a singleton instance, so every
/// <c>AddLifeguard()</c> call on that collection finds the same one. Filled while services are registered (one
/// thread), read by the host afterwards.
/// </summary>
internal sealed class PoolCatalog
{
    private readonly List<PoolRegistration> _pools = [];

    public IReadOnlyList<PoolRegistration> Pools => _pools;

    public static PoolCatalog? Find(IServiceCollection services)
    {
        foreach (var descriptor in services)
        {
            if (descriptor.ServiceType == typeof(PoolCatalog) && !descriptor.IsKeyedService
                && descriptor.ImplementationInstance is PoolCatalog catalog)
            {
                return catalog;
            }
        }

        return null;
    }

    public void Add(PoolRegistration registration)
    {
        if (_pools.Exists(p => string.Equals(p.Name, registration.Name, StringComparison.Ordinal)))
        {
            throw new InvalidOperationException(
                $"A Lifeguard pool named '{registration.Name}' was already added; pool names must be unique.");
        }

        _pools.Add(registration);
    }

    public bool Contains(string name) => _pools.Exists(p => string.Equals(p.Name, name, StringComparison.Ordinal));

    /// <summary>Adds a watch to the pool <paramref name="name"/>'s own (started with it, disposed at its stop).</summary>
    public void AddWatch(string name, Func<IServiceProvider, IPool, Microsoft.Extensions.Logging.ILogger, IDisposable?> watch)
    {
        int i = _pools.FindIndex(p => string.Equals(p.Name, name, StringComparison.Ordinal));
        var registration = _pools[i];
        var first = registration.Watch;
        _pools[i] = registration with
        {
            Watch = (services, pool, logger) => new Subscriptions(first(services, pool, logger), watch(services, pool, logger)),
        };
    }

    private sealed class Subscriptions(IDisposable? first, IDisposable? second) : IDisposable
    {
        public void Dispose()
        {
            first?.Dispose();
            second?.Dispose();
        }
    }
}
