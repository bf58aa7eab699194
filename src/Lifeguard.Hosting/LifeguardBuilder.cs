using Lifeguard.Hosting.Internal;
using Lifeguard.Python;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Hosting;

namespace Lifeguard.Hosting;

/// <summary>
/// Adds named pools to a service collection (returned by
/// <see cref="LifeguardServiceCollectionExtensions.AddLifeguard(IServiceCollection)"/>). Each pool's options are
/// named options bound from the configuration section <c>Lifeguard:Pools:&lt;name&gt;</c>, then passed to the
/// <c>configure</c> action, validated when the host starts, and watched: a reloaded <see cref="PoolOptions.Size"/> or
/// <see cref="PoolOptions.MaxOverflow"/> resizes the running pool. The pool is a keyed singleton under its name.
/// </summary>
public sealed class LifeguardBuilder
{
    private readonly PoolCatalog _catalog;

    internal LifeguardBuilder(IServiceCollection services, PoolCatalog catalog)
    {
        Services = services;
        _catalog = catalog;
    }

    /// <summary>The service collection the pools are added to.</summary>
    public IServiceCollection Services { get; }

    /// <summary>
    /// Adds a pool of <typeparamref name="TWorker"/> named <paramref name="name"/>, resolvable as
    /// <c>[FromKeyedServices(name)] Pool&lt;TWorker&gt;</c> or <see cref="IPool"/>, with options from
    /// <c>IOptionsMonitor&lt;PoolOptions&gt;.Get(name)</c>.
    /// </summary>
    /// <param name="name">The pool's name: its service key, configuration section and <see cref="PoolOptions.Name"/>.</param>
    /// <param name="factory">Creates the pool's worker factory, once, when the pool starts.</param>
    /// <param name="configure">Changes the options after they are bound from configuration.</param>
    /// <exception cref="InvalidOperationException">A pool named <paramref name="name"/> was already added.</exception>
    public LifeguardBuilder AddPool<TWorker>(
        string name, Func<IServiceProvider, IWorkerFactory<TWorker>> factory, Action<PoolOptions>? configure = null)
        where TWorker : class
    {
        ArgumentException.ThrowIfNullOrWhiteSpace(name);
        ArgumentNullException.ThrowIfNull(factory);
        _catalog.Add(new PoolRegistration(
            name,
            typeof(Pool<TWorker>),
            async (services, cancellationToken) =>
            {
                var options = PoolServices.GetOptions<PoolOptions>(services, name);
                return await Pool.StartAsync(options, factory(services), cancellationToken).ConfigureAwait(false);
            },
            PoolServices.WatchSize<PoolOptions>));
        PoolServices.AddOptions(Services.AddOptions<PoolOptions>(name), configure);
        PoolServices.AddPoolService<Pool<TWorker>>(Services, name);
        return this;
    }

    /// <summary>
    /// Adds a pool of Python workers named <paramref name="name"/>, resolvable as
    /// <c>[FromKeyedServices(name)] PythonPool</c> or <see cref="IPool"/>, with options from
    /// <c>IOptionsMonitor&lt;PythonPoolOptions&gt;.Get(name)</c>.
    /// </summary>
    /// <param name="name">The pool's name: its service key, configuration section and <see cref="PoolOptions.Name"/>.</param>
    /// <param name="configure">Changes the options after they are bound from configuration.</param>
    /// <exception cref="InvalidOperationException">A pool named <paramref name="name"/> was already added.</exception>
    public LifeguardBuilder AddPythonPool(string name, Action<PythonPoolOptions>? configure = null)
    {
        ArgumentException.ThrowIfNullOrWhiteSpace(name);
        _catalog.Add(new PoolRegistration(
            name,
            typeof(PythonPool),
            async (services, cancellationToken) =>
            {
                var options = PoolServices.GetOptions<PythonPoolOptions>(services, name);
                return await PythonPool.StartAsync(options, cancellationToken).ConfigureAwait(false);
            },
            PoolServices.WatchSize<PythonPoolOptions>));
        var options = Services.AddOptions<PythonPoolOptions>(name);
        PoolServices.AddOptions(options, configure);

        // Relative paths in appsettings.json mean the application's content root, as for any other file it names,
        // not whatever the process's current directory happens to be.
        options.PostConfigure<IServiceProvider>((o, services) =>
        {
            if (services.GetService<IHostEnvironment>()?.ContentRootPath is { Length: > 0 } root)
            {
                foreach (var paths in new[] { o.ModulePaths, o.AppendedModulePaths })
                {
                    for (int i = 0; i < paths.Count; i++)
                    {
                        paths[i] = Path.GetFullPath(paths[i], root);
                    }
                }

                foreach (var (module, file) in o.ModuleFiles.ToList())
                {
                    o.ModuleFiles[module] = Path.GetFullPath(file, root);
                }

                if (o.WorkingDirectory is { Length: > 0 } directory)
                {
                    o.WorkingDirectory = Path.GetFullPath(directory, root);
                }
            }
        });
        PoolServices.AddPoolService<PythonPool>(Services, name);
        return this;
    }
}
