using Lifeguard;
using Lifeguard.Hosting;
using Lifeguard.Hosting.Internal;
using Microsoft.Extensions.DependencyInjection.Extensions;
using Microsoft.Extensions.Hosting;

namespace Microsoft.Extensions.DependencyInjection;

/// <summary>Registers Lifeguard pools in a service collection.</summary>
public static class LifeguardServiceCollectionExtensions
{
    /// <summary>
    /// Adds the services every Lifeguard pool needs: one shared <see cref="PoolRegistry"/>, and a hosted service that
    /// starts the pools when the host starts and stops them (draining leased workers) when it stops. Add pools with
    /// the returned builder. Calling this more than once is harmless; each call returns a builder over the same pools.
    /// </summary>
    /// <param name="services">The service collection.</param>
    /// <returns>A builder to add pools with.</returns>
    public static LifeguardBuilder AddLifeguard(this IServiceCollection services)
    {
        ArgumentNullException.ThrowIfNull(services);
        var catalog = PoolCatalog.Find(services);
        if (catalog is null)
        {
            catalog = new PoolCatalog();
            services.AddSingleton(catalog);
        }

        services.AddOptions();
        services.TryAddSingleton<PoolRegistry>();
        services.TryAddEnumerable(ServiceDescriptor.Singleton<IHostedService, PoolHostedService>());
        return new LifeguardBuilder(services, catalog);
    }
}
