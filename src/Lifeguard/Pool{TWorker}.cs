namespace Lifeguard;

/// <summary>
/// A supervised pool of workers with poolboy's semantics: <see cref="PoolOptions.Size"/> workers kept ready, up to
/// <see cref="PoolOptions.MaxOverflow"/> more started for bursts, a fair FIFO queue beyond that, and a supervisor
/// that replaces workers that die. Start one with <see cref="Pool.StartAsync{TWorker}"/>. Thread-safe.
/// </summary>
/// <typeparam name="TWorker">The worker type.</typeparam>
public sealed class Pool<TWorker> : IPool, IPoolEventSource
    where TWorker : class
{
    private readonly PoolCore<TWorker> _core;
    private readonly TimeSpan _checkoutTimeout;

    internal Pool(PoolCore<TWorker> core)
    {
        _core = core;
        _checkoutTimeout = core.Options.CheckoutTimeout;
    }

    /// <inheritdoc />
    public string Name => _core.Name;

    /// <inheritdoc />
    public Type WorkerType => typeof(TWorker);

    /// <summary>
    /// Checks out a worker: an idle one at once; else a new overflow worker if the cap allows; else waits in FIFO
    /// order up to <see cref="PoolOptions.CheckoutTimeout"/>. Dispose the lease to check the worker in.
    /// </summary>
    /// <exception cref="PoolTimeoutException">No worker came within the timeout.</exception>
    /// <exception cref="PoolRejectedException"><see cref="PoolOptions.MaxWaiters"/> callers already wait.</exception>
    /// <exception cref="PoolBackoffException">The pool is in backoff and a new worker was needed.</exception>
    /// <exception cref="WorkerStartException">The overflow worker started for this call failed to start.</exception>
    /// <exception cref="PoolStoppedException">The pool is stopping or stopped.</exception>
    /// <exception cref="OperationCanceledException"><paramref name="cancellationToken"/> fired.</exception>
    public ValueTask<Lease<TWorker>> CheckoutAsync(CancellationToken cancellationToken = default)
        => CheckoutAsync(_checkoutTimeout, cancellationToken);

    /// <summary>As <see cref="CheckoutAsync(CancellationToken)"/>, with this call's own queueing timeout.</summary>
    /// <param name="timeout">How long to wait in the queue: zero never waits, <see cref="Timeout.InfiniteTimeSpan"/> waits forever.</param>
    /// <param name="cancellationToken">Stops the wait.</param>
    public ValueTask<Lease<TWorker>> CheckoutAsync(TimeSpan timeout, CancellationToken cancellationToken = default)
    {
        if (timeout < TimeSpan.Zero && timeout != Timeout.InfiniteTimeSpan)
        {
            throw new ArgumentOutOfRangeException(nameof(timeout), timeout, "A checkout timeout is zero, positive or Timeout.InfiniteTimeSpan.");
        }

        if (cancellationToken.IsCancellationRequested)
        {
            return ValueTask.FromCanceled<Lease<TWorker>>(cancellationToken);
        }

        // One field read when nothing listens: no span, no clock read, no allocation on the fast path.
        return LifeguardTracing.Source.HasListeners()
            ? CheckoutTracedAsync(timeout, tryOnly: false, cancellationToken)
            : _core.CheckoutAsync(timeout, tryOnly: false, cancellationToken);
    }

    /// <summary>
    /// Checks out a worker without queueing (poolboy's <c>checkout(Pool, false)</c>): an idle worker, or a new
    /// overflow worker (awaited) if the cap allows; <see langword="null"/> when the pool is full.
    /// </summary>
    public async ValueTask<Lease<TWorker>?> TryCheckoutAsync(CancellationToken cancellationToken = default)
    {
        cancellationToken.ThrowIfCancellationRequested();
        var lease = await (LifeguardTracing.Source.HasListeners()
            ? CheckoutTracedAsync(TimeSpan.Zero, tryOnly: true, cancellationToken)
            : _core.CheckoutAsync(TimeSpan.Zero, tryOnly: true, cancellationToken)).ConfigureAwait(false);
        return lease.IsEmpty ? null : lease;
    }

    /// <summary>
    /// Runs <paramref name="work"/> with a checked-out worker and always checks it in, whether the work succeeds,
    /// throws or is cancelled (poolboy's <c>transaction</c>). The checkout waits up to
    /// <see cref="PoolOptions.CheckoutTimeout"/>, and fails as <see cref="CheckoutAsync(CancellationToken)"/> does.
    /// </summary>
    public Task<TResult> RunAsync<TResult>(
        Func<TWorker, CancellationToken, Task<TResult>> work, CancellationToken cancellationToken = default)
        => RunAsync(work, _checkoutTimeout, cancellationToken);

    /// <summary>
    /// As <see cref="RunAsync{TResult}(Func{TWorker, CancellationToken, Task{TResult}}, CancellationToken)"/>, with
    /// this call's own queueing timeout (poolboy's <c>transaction/3</c>).
    /// </summary>
    /// <param name="work">The work to run with the worker.</param>
    /// <param name="checkoutTimeout">How long to wait in the queue: zero never waits, <see cref="Timeout.InfiniteTimeSpan"/> waits forever.</param>
    /// <param name="cancellationToken">Stops the wait, and is passed to <paramref name="work"/>.</param>
    /// <exception cref="ArgumentOutOfRangeException"><paramref name="checkoutTimeout"/> is negative and not infinite.</exception>
    /// <exception cref="PoolTimeoutException">No worker came within <paramref name="checkoutTimeout"/>.</exception>
    public async Task<TResult> RunAsync<TResult>(
        Func<TWorker, CancellationToken, Task<TResult>> work, TimeSpan checkoutTimeout, CancellationToken cancellationToken = default)
    {
        ArgumentNullException.ThrowIfNull(work);
        var lease = await CheckoutAsync(checkoutTimeout, cancellationToken).ConfigureAwait(false);
        try
        {
            return await work(lease.Worker, cancellationToken).ConfigureAwait(false);
        }
        finally
        {
            lease.Dispose();
        }
    }

    /// <summary>As <see cref="RunAsync{TResult}(Func{TWorker, CancellationToken, Task{TResult}}, CancellationToken)"/>, for work without a result.</summary>
    public Task RunAsync(Func<TWorker, CancellationToken, Task> work, CancellationToken cancellationToken = default)
        => RunAsync(work, _checkoutTimeout, cancellationToken);

    /// <summary>As <see cref="RunAsync{TResult}(Func{TWorker, CancellationToken, Task{TResult}}, TimeSpan, CancellationToken)"/>, for work without a result.</summary>
    /// <param name="work">The work to run with the worker.</param>
    /// <param name="checkoutTimeout">How long to wait in the queue: zero never waits, <see cref="Timeout.InfiniteTimeSpan"/> waits forever.</param>
    /// <param name="cancellationToken">Stops the wait, and is passed to <paramref name="work"/>.</param>
    /// <exception cref="ArgumentOutOfRangeException"><paramref name="checkoutTimeout"/> is negative and not infinite.</exception>
    /// <exception cref="PoolTimeoutException">No worker came within <paramref name="checkoutTimeout"/>.</exception>
    public async Task RunAsync(Func<TWorker, CancellationToken, Task> work, TimeSpan checkoutTimeout, CancellationToken cancellationToken = default)
    {
        ArgumentNullException.ThrowIfNull(work);
        var lease = await CheckoutAsync(checkoutTimeout, cancellationToken).ConfigureAwait(false);
        try
        {
            await work(lease.Worker, cancellationToken).ConfigureAwait(false);
        }
        finally
        {
            lease.Dispose();
        }
    }

    /// <summary>
    /// A checkout inside a <c>lifeguard.checkout</c> span (docs/hosting.md, "Tracing"): the pool's name, the wait in
    /// seconds on the pool's clock (<c>lifeguard.checkout.wait</c>), and <c>error.type</c> when it fails. The span is
    /// current only inside this method, so it ends where the caller receives its worker.
    /// </summary>
    private async ValueTask<Lease<TWorker>> CheckoutTracedAsync(TimeSpan timeout, bool tryOnly, CancellationToken cancellationToken)
    {
        using var activity = LifeguardTracing.Source.StartActivity(LifeguardTracing.CheckoutSpan);
        if (activity is null)
        {
            return await _core.CheckoutAsync(timeout, tryOnly, cancellationToken).ConfigureAwait(false);
        }

        activity.SetTag(LifeguardTracing.PoolNameTag, _core.Name);
        var time = _core.Options.TimeProvider;
        long started = time.GetTimestamp();
        try
        {
            var lease = await _core.CheckoutAsync(timeout, tryOnly, cancellationToken).ConfigureAwait(false);
            activity.SetTag(LifeguardTracing.CheckoutWaitTag, time.GetElapsedTime(started).TotalSeconds);
            if (lease.IsEmpty)
            {
                activity.SetTag(LifeguardTracing.CheckoutFullTag, true);
            }

            return lease;
        }
        catch (Exception e)
        {
            activity.SetTag(LifeguardTracing.CheckoutWaitTag, time.GetElapsedTime(started).TotalSeconds);
            LifeguardTracing.SetError(activity, e);
            throw;
        }
    }

    /// <inheritdoc />
    public PoolStatus GetStatus() => _core.GetStatus();

    PoolEventHub IPoolEventSource.EventHub => _core.EventHub;

    /// <inheritdoc />
    public void Resize(int size, int maxOverflow) => _core.Resize(size, maxOverflow, source: null);

    /// <inheritdoc />
    public void Resize(int size, int maxOverflow, string? source) => _core.Resize(size, maxOverflow, source);

    /// <inheritdoc />
    public void RecycleAll() => _core.RecycleAll(source: null);

    /// <inheritdoc />
    public void RecycleAll(string? source) => _core.RecycleAll(source);

    /// <summary>
    /// Reloads the pool's code without a restart: a canary worker starts from the current code, in place of an old
    /// worker (it may take the pool one over <see cref="PoolOptions.Size"/> + <see cref="PoolOptions.MaxOverflow"/>
    /// while it starts). If its start fails, nothing changes and this throws. Else the pool's
    /// <see cref="PoolStatus.Generation"/> moves on, the canary joins, and every older worker is replaced: idle ones
    /// at once, busy ones at their checkin, each replacement started before its old worker leaves. Returns once no
    /// old worker is idle or starting, so no call starts on old code after it returns. Reloads run one at a time: a
    /// call made during another waits for it, then reloads again.
    /// </summary>
    /// <param name="cancellationToken">Stops the wait; a reload whose canary has started goes on.</param>
    /// <exception cref="WorkerStartException">The canary failed to start; the pool is unchanged.</exception>
    /// <exception cref="PoolStoppedException">The pool is stopping or stopped, or stopped during the reload.</exception>
    public Task ReloadAsync(CancellationToken cancellationToken = default) => _core.ReloadAsync(source: null, prepare: null, cancellationToken);

    /// <summary>
    /// As <see cref="ReloadAsync(CancellationToken)"/>, saying who asked: <paramref name="source"/> is the
    /// <see cref="PoolEvent.Source"/> of the <see cref="PoolEventKind.RecycleRequested"/> event it publishes.
    /// </summary>
    /// <param name="source">Who asked (<c>"file watcher"</c>, <c>"dashboard"</c>); <see langword="null"/> for nobody in particular.</param>
    /// <param name="cancellationToken">Stops the wait; a reload whose canary has started goes on.</param>
    public Task ReloadAsync(string? source, CancellationToken cancellationToken = default)
        => _core.ReloadAsync(source, prepare: null, cancellationToken);

    /// <summary>As <see cref="ReloadAsync(string, CancellationToken)"/>, running <paramref name="prepare"/> first, in turn with other reloads.</summary>
    internal Task ReloadAsync(string? source, Func<CancellationToken, Task>? prepare, CancellationToken cancellationToken)
        => _core.ReloadAsync(source, prepare, cancellationToken);

    /// <inheritdoc />
    public Task<WorkerKillResult> KillWorkerAsync(int workerId, string? source = null, CancellationToken cancellationToken = default)
        => _core.KillWorkerAsync(workerId, source, cancellationToken);

    /// <inheritdoc />
    public PoolEventSubscription SubscribeToEvents(int capacity = PoolEventSubscription.DefaultCapacity)
        => _core.SubscribeToEvents(capacity);

    /// <inheritdoc />
    public Task StopAsync(CancellationToken cancellationToken = default) => _core.StopAsync().WaitAsync(cancellationToken);

    /// <summary>Stops the pool (<see cref="StopAsync"/>).</summary>
    public ValueTask DisposeAsync() => new(_core.StopAsync());
}
