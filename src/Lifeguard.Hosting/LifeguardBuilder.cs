using System.Diagnostics.CodeAnalysis;
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
    /// <c>[FromKeyedServices(name)] PythonPool</c>, <see cref="IPythonCaller"/> or <see cref="IPool"/>, with options
    /// from <c>IOptionsMonitor&lt;PythonPoolOptions&gt;.Get(name)</c>.
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

                if (o.VirtualEnvironment is { Length: > 0 } venv)
                {
                    o.VirtualEnvironment = Path.GetFullPath(venv, root);
                }
            }
        });
        PoolServices.AddPoolService<PythonPool>(Services, name);
        Services.AddKeyedSingleton<IPythonCaller>(name, (services, _) => services.GetRequiredKeyedService<PythonPool>(name));
        return this;
    }

    /// <summary>
    /// Adds the bindings of a Python module that call into the Python pool <paramref name="poolName"/>: a
    /// <typeparamref name="TInterface"/> singleton, resolvable as it is and keyed by the pool's name, made once (when
    /// first resolved) by <typeparamref name="TImplementation"/>'s constructor, which gets the pool as its
    /// <see cref="IPythonCaller"/> and its other parameters from the services. The bindings the build generates from
    /// a module's type hints (<c>&lt;LifeguardPythonModule&gt;</c>, docs/python.md) fit: <c>ITextStats</c> and
    /// <c>TextStats</c>. With the same interface on two pools, the unkeyed service is the one added last.
    /// </summary>
    /// <typeparam name="TInterface">The module's interface.</typeparam>
    /// <typeparam name="TImplementation">The class that implements it over an <see cref="IPythonCaller"/>.</typeparam>
    /// <param name="poolName">The name of a Python pool added before, with <see cref="AddPythonPool"/>, or of another <see cref="IPythonCaller"/> keyed by that name (a remote pool).</param>
    /// <exception cref="InvalidOperationException">No Python pool named <paramref name="poolName"/> was added.</exception>
    public LifeguardBuilder AddPythonModule<TInterface, [DynamicallyAccessedMembers(DynamicallyAccessedMemberTypes.PublicConstructors)] TImplementation>(string poolName)
        where TInterface : class
        where TImplementation : class, TInterface
    {
        ArgumentException.ThrowIfNullOrWhiteSpace(poolName);
        // A local pool, or any other IPythonCaller registered under the name (a remote pool, AddRemotePythonPool).
        if (!_catalog.Pools.Any(p => string.Equals(p.Name, poolName, StringComparison.Ordinal) && p.PoolType == typeof(PythonPool))
            && !Services.Any(d => d.IsKeyedService && d.ServiceType == typeof(IPythonCaller) && Equals(d.ServiceKey, poolName)))
        {
            throw new InvalidOperationException(
                $"No Python pool named '{poolName}' was added: call AddPythonPool(\"{poolName}\") (or AddRemotePythonPool) before AddPythonModule<{typeof(TInterface).Name}, {typeof(TImplementation).Name}>(\"{poolName}\").");
        }

        Services.AddKeyedSingleton<TInterface>(poolName, (services, _) =>
            ActivatorUtilities.CreateInstance<TImplementation>(services, services.GetRequiredKeyedService<IPythonCaller>(poolName)));
        Services.AddSingleton(services => services.GetRequiredKeyedService<TInterface>(poolName));
        return this;
    }

    /// <summary>
    /// For development: reloads the Python pool <paramref name="poolName"/> (<see cref="PythonPool.ReloadAsync(string, CancellationToken)"/>,
    /// source <c>"file watcher"</c>) whenever a <c>.py</c> file under its <see cref="PythonPoolOptions.ModulePaths"/>,
    /// its <see cref="PythonPoolOptions.AppendedModulePaths"/> or the folders of its
    /// <see cref="PythonPoolOptions.ModuleFiles"/> (subfolders included) is saved, created, renamed or deleted, once
    /// the files have been quiet for <paramref name="debounce"/>, so an editor's burst of writes makes one reload.
    /// Files saved during a reload make one more after it. A reload that fails (a file that does not import) is
    /// logged as a warning with Python's error and never stops the host: the pool serves the code it had, and the next
    /// save tries again. The watch starts with the pool and ends at its stop.
    /// </summary>
    /// <param name="poolName">The name of a Python pool added before, with <see cref="AddPythonPool"/>.</param>
    /// <param name="debounce">How long the files must be quiet before a reload. Default 300 ms; positive.</param>
    /// <exception cref="InvalidOperationException">No Python pool named <paramref name="poolName"/> was added.</exception>
    /// <exception cref="ArgumentOutOfRangeException"><paramref name="debounce"/> is not positive.</exception>
    public LifeguardBuilder ReloadOnChange(string poolName, TimeSpan? debounce = null)
    {
        ArgumentException.ThrowIfNullOrWhiteSpace(poolName);
        var quiet = debounce ?? TimeSpan.FromMilliseconds(300);
        ArgumentOutOfRangeException.ThrowIfLessThanOrEqual(quiet, TimeSpan.Zero, nameof(debounce));
        if (!_catalog.Pools.Any(p => string.Equals(p.Name, poolName, StringComparison.Ordinal) && p.PoolType == typeof(PythonPool)))
        {
            throw new InvalidOperationException(
                $"No Python pool named '{poolName}' was added: call AddPythonPool(\"{poolName}\") before ReloadOnChange(\"{poolName}\").");
        }

        _catalog.AddWatch(poolName, (services, pool, logger) =>
        {
            var options = PoolServices.GetOptions<PythonPoolOptions>(services, poolName);
            var python = (PythonPool)pool;
            var watcher = new PythonReloadWatcher(
                poolName, cancellationToken => python.ReloadAsync("file watcher", cancellationToken), quiet, options.TimeProvider, logger);
            watcher.Watch(options.ModulePaths
                .Concat(options.AppendedModulePaths)
                .Concat(options.ModuleFiles.Values.Select(file => Path.GetDirectoryName(Path.GetFullPath(file)) ?? ".")));
            return watcher;
        });
        return this;
    }
}
