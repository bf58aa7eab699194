using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Hosting;
using Microsoft.Extensions.Logging;
using Microsoft.Extensions.Logging.Abstractions;

namespace Lifeguard.Hosting.Internal;

/// <summary>
/// Starts the configured pools, in the order they were added, before any hosted service's <c>StartAsync</c>, and
/// stops them after every hosted service has stopped, so other services can use the pools throughout their own
/// lifetime. Stopping may be asked for more than once and from more than one thread (a web application's own run loop
/// and its test factory both stop the host): the first request stops the pools, and every request completes only when
/// they have stopped.
/// </summary>
internal sealed class PoolHostedService(IServiceProvider services, PoolCatalog catalog, PoolRegistry registry)
    : IHostedLifecycleService
{
    private readonly ILogger _logger = services.GetService<ILoggerFactory>()?.CreateLogger("Lifeguard.Hosting")
        ?? NullLogger.Instance;

    private readonly Lock _gate = new();
    private readonly List<string> _started = [];
    private readonly List<IDisposable> _subscriptions = [];
    private Task? _stopping;

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

            var subscription = registration.Watch(services, pool, _logger);
            bool stopping;
            lock (_gate)
            {
                stopping = _stopping is not null;
                if (!stopping)
                {
                    _started.Add(registration.Name);
                    if (subscription is not null)
                    {
                        _subscriptions.Add(subscription);
                    }
                }
            }

            if (stopping)
            {
                // The host began to stop while this pool started: it stops too, and no further pool starts.
                subscription?.Dispose();
                await StopOneAsync(registration.Name, CancellationToken.None).ConfigureAwait(false);
                cancellationToken.ThrowIfCancellationRequested();
                return;
            }
        }
    }

    public Task StartAsync(CancellationToken cancellationToken) => Task.CompletedTask;

    public Task StartedAsync(CancellationToken cancellationToken) => Task.CompletedTask;

    public Task StoppingAsync(CancellationToken cancellationToken) => Task.CompletedTask;

    public Task StopAsync(CancellationToken cancellationToken) => Task.CompletedTask;

    public Task StoppedAsync(CancellationToken cancellationToken) => StopPoolsAsync(cancellationToken);

    /// <summary>
    /// Stops every pool this service started, concurrently; one failure does not keep the others running. Later calls,
    /// concurrent or not, wait for the first one's stop and share its outcome.
    /// </summary>
    private async Task StopPoolsAsync(CancellationToken cancellationToken)
    {
        Task? earlier;
        TaskCompletionSource? done = null;
        IDisposable[] subscriptions = [];
        string[] names = [];
        lock (_gate)
        {
            earlier = _stopping;
            if (earlier is null)
            {
                done = new TaskCompletionSource(TaskCreationOptions.RunContinuationsAsynchronously);
                _stopping = done.Task;
                subscriptions = [.. _subscriptions];
                names = [.. _started];
                _subscriptions.Clear();
                _started.Clear();
            }
        }

        if (earlier is not null)
        {
            await earlier.ConfigureAwait(false);
            return;
        }

        var stop = StopAllAsync(subscriptions, names, cancellationToken);
        try
        {
            await stop.ConfigureAwait(false);
        }
        finally
        {
            done!.SetFromTask(stop);
        }
    }

    private async Task StopAllAsync(IDisposable[] subscriptions, string[] names, CancellationToken cancellationToken)
    {
        foreach (var subscription in subscriptions)
        {
            subscription.Dispose();
        }

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
