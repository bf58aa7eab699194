using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Hosting;
using Microsoft.Extensions.Logging;
using Microsoft.Extensions.Logging.Abstractions;

namespace Lifeguard.Hosting.Internal;

/// <summary>
/// Starts the configured pools, in the order they were added, before any hosted service's <c>StartAsync</c>, and
/// stops them after every hosted service has stopped, so other services can use the pools throughout their own
/// lifetime. The host calls it from one thread at a time.
/// </summary>
internal sealed class PoolHostedService(IServiceProvider services, PoolCatalog catalog, PoolRegistry registry)
    : IHostedLifecycleService
{
    private readonly ILogger _logger = services.GetService<ILoggerFactory>()?.CreateLogger("Lifeguard.Hosting")
        ?? NullLogger.Instance;

    private readonly List<string> _started = [];
    private readonly List<IDisposable> _subscriptions = [];

    public async Task StartingAsync(CancellationToken cancellationToken)
    {
        foreach (var registration in catalog.Pools)
        {
            HostingLog.Starting(_logger, registration.Name);
            IPool pool;
            try
            {
                pool = await registration.StartAsync(services, cancellationToken).ConfigureAwait(false);
            }
            catch (Exception e)
            {
                HostingLog.StartFailed(_logger, e, registration.Name);
                await StopPoolsAsync(CancellationToken.None).ConfigureAwait(false);
                if (e is OperationCanceledException && cancellationToken.IsCancellationRequested)
                {
                    throw;
                }

                throw new InvalidOperationException($"Lifeguard pool '{registration.Name}' failed to start: {e.Message}", e);
            }

            try
            {
                registry.Add(pool);
            }
            catch (InvalidOperationException)
            {
                // Another pool of that name was added to the shared registry by hand.
                await pool.DisposeAsync().ConfigureAwait(false);
                await StopPoolsAsync(CancellationToken.None).ConfigureAwait(false);
                throw;
            }

            _started.Add(registration.Name);
            if (registration.Watch(services, pool, _logger) is { } subscription)
            {
                _subscriptions.Add(subscription);
            }
        }
    }

    public Task StartAsync(CancellationToken cancellationToken) => Task.CompletedTask;

    public Task StartedAsync(CancellationToken cancellationToken) => Task.CompletedTask;

    public Task StoppingAsync(CancellationToken cancellationToken) => Task.CompletedTask;

    public Task StopAsync(CancellationToken cancellationToken) => Task.CompletedTask;

    public Task StoppedAsync(CancellationToken cancellationToken) => StopPoolsAsync(cancellationToken);

    /// <summary>Stops every pool this service started, concurrently; one failure does not keep the others running.</summary>
    private async Task StopPoolsAsync(CancellationToken cancellationToken)
    {
        foreach (var subscription in _subscriptions)
        {
            subscription.Dispose();
        }

        _subscriptions.Clear();
        string[] names = [.. _started];
        _started.Clear();
        await Task.WhenAll(names.Select(name => StopOneAsync(name, cancellationToken))).ConfigureAwait(false);
    }

    private async Task StopOneAsync(string name, CancellationToken cancellationToken)
    {
        try
        {
            await registry.StopPoolAsync(name, cancellationToken).ConfigureAwait(false);
        }
        catch (Exception e) when (e is not OperationCanceledException)
        {
            HostingLog.StopFailed(_logger, e, name);
            throw;
        }
    }
}
