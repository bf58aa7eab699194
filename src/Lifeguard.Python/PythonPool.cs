using System.Runtime.CompilerServices;
using System.Text.Json;
using System.Text.Json.Serialization.Metadata;
using Microsoft.Extensions.Logging;

namespace Lifeguard.Python;

/// <summary>
/// A supervised pool of Python worker processes. <see cref="CallAsync{T}(string, string, IReadOnlyList{object?}?, IReadOnlyDictionary{string, object?}?, PythonCallOptions?, CancellationToken)"/>
/// checks a worker out, calls <c>module.function</c> in it and checks it in; workers that crash, hang or break the
/// protocol are replaced. Thread-safe.
/// </summary>
public sealed class PythonPool : IPool, IPythonCaller, IPoolEventSource
{
    private readonly Pool<PythonWorker> _pool;
    private readonly int _maxRetries;
    private readonly ILogger _logger;
    private readonly ForkServer? _forkServer;

    private PythonPool(Pool<PythonWorker> pool, PythonPoolOptions options, ForkServer? forkServer)
    {
        _pool = pool;
        _forkServer = forkServer;
        Options = options;
        _maxRetries = options.MaxRetries;
        _logger = (ILogger?)options.LoggerFactory?.CreateLogger("Lifeguard.Python.Pool") ?? Microsoft.Extensions.Logging.Abstractions.NullLogger.Instance;
    }

    /// <inheritdoc />
    public string Name => _pool.Name;

    /// <inheritdoc />
    public Type WorkerType => typeof(PythonWorker);

    /// <summary>The underlying pool of workers.</summary>
    public Pool<PythonWorker> Workers => _pool;

    /// <summary>
    /// Resolves the interpreter, writes the runtime to its cache folder, and starts
    /// <see cref="PoolOptions.Size"/> workers in parallel; ready when all have completed their handshake.
    /// </summary>
    /// <exception cref="ArgumentException">The options are invalid; the message names every offending value.</exception>
    /// <exception cref="WorkerStartException">A worker failed to start; a <see cref="PythonStartException"/> with Python's own error is inside.</exception>
    /// <exception cref="PythonStartException">The interpreter could not be found or run.</exception>
    public static async Task<PythonPool> StartAsync(PythonPoolOptions options, CancellationToken cancellationToken = default)
    {
        ArgumentNullException.ThrowIfNull(options);
        options.Validate();
        var settings = await PythonWorkerSettings.CreateAsync(options).ConfigureAwait(false);
        var forkServer = options.StartMode == PythonStartMode.ForkServer
            ? await ForkServer.StartAsync(settings, options.ForkServerRestartTime).ConfigureAwait(false)
            : null;
        try
        {
            var pool = await Pool.StartAsync(options, PythonWorkerFactory.For(options, settings, forkServer), cancellationToken).ConfigureAwait(false);
            return new PythonPool(pool, options, forkServer);
        }
        catch when (forkServer is not null)
        {
            await forkServer.DisposeAsync().ConfigureAwait(false);
            throw;
        }
    }

    /// <summary>
    /// Calls <c>module.function(*args, **kwargs)</c> in a pooled worker and deserialises the result as
    /// <typeparamref name="T"/>. With <see cref="PythonPoolOptions.MaxRetries"/> (or this call's
    /// <see cref="PythonCallOptions.MaxRetries"/>), a call whose worker crashed or timed out is retried on another
    /// worker, unless the call is declared not idempotent.
    /// </summary>
    /// <param name="module">The module to call into.</param>
    /// <param name="function">The function's name; an <c>async def</c> is awaited.</param>
    /// <param name="args">The positional arguments, as one list; <see langword="null"/> for none.</param>
    /// <param name="kwargs">The keyword arguments; <see langword="null"/> for none.</param>
    /// <param name="options">
    /// This call's own timeouts, retries and error text; <see langword="null"/>, or a field left unset, for the
    /// pool's options. Checked before the checkout.
    /// </param>
    /// <param name="cancellationToken">
    /// Cancels the wait for a worker, or interrupts the call. A cancelled call ends with
    /// <see cref="OperationCanceledException"/> carrying this token, even when its worker failed at the same moment
    /// (the failure is its inner exception), and is not retried.
    /// </param>
    /// <exception cref="ArgumentException">
    /// <paramref name="options"/> holds an invalid value, or sets <see cref="PythonCallOptions.Idempotent"/> to
    /// <see langword="false"/> with <see cref="PythonCallOptions.MaxRetries"/> above 0.
    /// </exception>
    public Task<T?> CallAsync<T>(
        string module,
        string function,
        IReadOnlyList<object?>? args = null,
        IReadOnlyDictionary<string, object?>? kwargs = null,
        PythonCallOptions? options = null,
        CancellationToken cancellationToken = default)
    {
        options = options?.Copy();
        options?.ValidateForPool(nameof(options));
        return RunAsync(module, function, options, (worker, ct) => worker.PoolCallAsync(module, function, worker.TypeInfo<T>(), args, kwargs, options, ct), cancellationToken);
    }

    /// <summary>As <see cref="CallAsync{T}(string, string, IReadOnlyList{object?}?, IReadOnlyDictionary{string, object?}?, PythonCallOptions?, CancellationToken)"/>, reading the result with <paramref name="resultType"/> (trimming- and AOT-safe).</summary>
    public Task<T?> CallAsync<T>(
        string module,
        string function,
        JsonTypeInfo<T> resultType,
        IReadOnlyList<object?>? args = null,
        IReadOnlyDictionary<string, object?>? kwargs = null,
        PythonCallOptions? options = null,
        CancellationToken cancellationToken = default)
    {
        ArgumentNullException.ThrowIfNull(resultType);
        options = options?.Copy();
        options?.ValidateForPool(nameof(options));
        return RunAsync(module, function, options, (worker, ct) => worker.PoolCallAsync(module, function, resultType, args, kwargs, options, ct), cancellationToken);
    }

    /// <summary>As the typed overloads, returning the result as a <see cref="JsonElement"/>.</summary>
    public Task<JsonElement> CallAsync(
        string module,
        string function,
        IReadOnlyList<object?>? args = null,
        IReadOnlyDictionary<string, object?>? kwargs = null,
        PythonCallOptions? options = null,
        CancellationToken cancellationToken = default)
    {
        options = options?.Copy();
        options?.ValidateForPool(nameof(options));
        return RunAsync(module, function, options, (worker, ct) => worker.PoolCallAsync(module, function, args, kwargs, options, ct), cancellationToken);
    }

    /// <summary>
    /// Calls a generator function (or an async generator, or a function returning an iterator or a list) in a
    /// pooled worker and yields its items one by one as they come, each deserialised as <typeparamref name="T"/>.
    /// The worker is checked out when the enumeration starts and checked in when it is disposed; it runs at most
    /// <see cref="PythonCallOptions.StreamWindow"/> (else <see cref="PythonPoolOptions.StreamWindow"/>) items ahead.
    /// </summary>
    /// <remarks>
    /// <see cref="PythonCallOptions.CallTimeout"/> bounds the wait for each next item, and
    /// <see cref="PythonCallOptions.CheckoutTimeout"/> the wait for a worker; the token bounds the whole stream.
    /// Ending early (<c>break</c>, or the token) closes the generator, so its <c>finally</c> blocks run, and the
    /// worker is kept; one that does not finish closing within <see cref="PythonPoolOptions.CancelGracePeriod"/> is
    /// interrupted, then killed. A stream is never retried: <see cref="PythonCallOptions.MaxRetries"/> and the
    /// pool's do not apply.
    /// </remarks>
    /// <exception cref="ArgumentException"><paramref name="options"/> holds an invalid value (checked when this is called).</exception>
    /// <exception cref="PythonException">The generator raised, after the items it yielded before.</exception>
    /// <exception cref="PythonCallTimeoutException">The wait for one item ran past the call timeout.</exception>
    /// <exception cref="PythonWorkerCrashedException">The worker died during the stream.</exception>
    public IAsyncEnumerable<T?> StreamAsync<T>(
        string module,
        string function,
        IReadOnlyList<object?>? args = null,
        IReadOnlyDictionary<string, object?>? kwargs = null,
        PythonCallOptions? options = null,
        CancellationToken cancellationToken = default)
    {
        options = CheckStream(module, function, options);
        return LeasedStreamAsync(options, (worker, ct) => worker.PoolStreamAsync(module, function, worker.TypeInfo<T>(), args, kwargs, options, ct), cancellationToken);
    }

    /// <summary>As <see cref="StreamAsync{T}(string, string, IReadOnlyList{object?}?, IReadOnlyDictionary{string, object?}?, PythonCallOptions?, CancellationToken)"/>, reading each item with <paramref name="itemType"/> (trimming- and AOT-safe).</summary>
    public IAsyncEnumerable<T?> StreamAsync<T>(
        string module,
        string function,
        JsonTypeInfo<T> itemType,
        IReadOnlyList<object?>? args = null,
        IReadOnlyDictionary<string, object?>? kwargs = null,
        PythonCallOptions? options = null,
        CancellationToken cancellationToken = default)
    {
        ArgumentNullException.ThrowIfNull(itemType);
        options = CheckStream(module, function, options);
        return LeasedStreamAsync(options, (worker, ct) => worker.PoolStreamAsync(module, function, itemType, args, kwargs, options, ct), cancellationToken);
    }

    /// <summary>As the typed stream overloads, yielding each item as a <see cref="JsonElement"/>.</summary>
    public IAsyncEnumerable<JsonElement> StreamAsync(
        string module,
        string function,
        IReadOnlyList<object?>? args = null,
        IReadOnlyDictionary<string, object?>? kwargs = null,
        PythonCallOptions? options = null,
        CancellationToken cancellationToken = default)
    {
        options = CheckStream(module, function, options);
        return LeasedStreamAsync(options, (worker, ct) => worker.PoolStreamAsync(module, function, args, kwargs, options, ct), cancellationToken);
    }

    private static PythonCallOptions? CheckStream(string module, string function, PythonCallOptions? options)
    {
        ArgumentException.ThrowIfNullOrEmpty(module);
        ArgumentException.ThrowIfNullOrEmpty(function);
        options = options?.Copy();
        options?.ValidateForPool(nameof(options));
        return options;
    }

    /// <summary>The stream on a worker checked out for it, checked in when the enumeration is disposed.</summary>
    private async IAsyncEnumerable<TItem> LeasedStreamAsync<TItem>(
        PythonCallOptions? options,
        Func<PythonWorker, CancellationToken, IAsyncEnumerable<TItem>> stream,
        [EnumeratorCancellation] CancellationToken cancellationToken = default)
    {
        var lease = await (options?.CheckoutTimeout is { } checkoutTimeout
            ? _pool.CheckoutAsync(checkoutTimeout, cancellationToken)
            : _pool.CheckoutAsync(cancellationToken)).ConfigureAwait(false);
        try
        {
            await foreach (var item in stream(lease.Worker, cancellationToken).ConfigureAwait(false))
            {
                yield return item;
            }
        }
        finally
        {
            lease.Dispose();
        }
    }

    /// <summary>
    /// A remote caller's call, its arguments encoded already (a remote pool's host serves it): checked out and retried
    /// as any call, the result frame returned whole.
    /// </summary>
    internal Task<byte[]> CallEncodedAsync(string module, string function, EncodedArguments args, PythonCallOptions? options, CancellationToken cancellationToken)
    {
        options = options?.Copy();
        options?.ValidateForPool(nameof(options));
        return RunAsync(module, function, options, (worker, ct) => worker.PoolCallEncodedAsync(module, function, args, options, ct), cancellationToken);
    }

    /// <summary>A remote caller's stream, its arguments encoded already: each item frame whole.</summary>
    internal IAsyncEnumerable<byte[]> StreamEncodedAsync(string module, string function, EncodedArguments args, PythonCallOptions? options, CancellationToken cancellationToken)
    {
        options = CheckStream(module, function, options);
        return LeasedStreamAsync(options, (worker, ct) => worker.PoolStreamEncodedAsync(module, function, args, options, ct), cancellationToken);
    }

    /// <summary>The options the pool started with (a remote pool's host reads its limits and its allowed modules).</summary>
    internal PythonPoolOptions Options { get; }

    /// <summary>The pool's fork server (<see cref="PythonStartMode.ForkServer"/> on Linux), else null.</summary>
    internal ForkServer? ForkServer => _forkServer;

    /// <summary>
    /// Checks out one worker for several calls that must run in the same process (load data, then query it).
    /// Dispose the lease to check it in.
    /// </summary>
    public ValueTask<Lease<PythonWorker>> CheckoutAsync(CancellationToken cancellationToken = default)
        => _pool.CheckoutAsync(cancellationToken);

    /// <inheritdoc />
    public PoolStatus GetStatus() => _pool.GetStatus();

    PoolEventHub IPoolEventSource.EventHub => ((IPoolEventSource)_pool).EventHub;

    /// <inheritdoc />
    public void Resize(int size, int maxOverflow) => _pool.Resize(size, maxOverflow);

    /// <inheritdoc />
    public void Resize(int size, int maxOverflow, string? source) => _pool.Resize(size, maxOverflow, source);

    /// <inheritdoc />
    public void RecycleAll() => _pool.RecycleAll();

    /// <inheritdoc />
    public void RecycleAll(string? source) => _pool.RecycleAll(source);

    /// <summary>
    /// Reloads the pool's Python code from the files as they are now, without a restart (docs/python.md, "Reloading
    /// code"). With <see cref="PythonStartMode.ForkServer"/>, the fork server's template is rebuilt first, from the
    /// current files. Then a canary worker starts (every <see cref="PythonPoolOptions.Preload"/> module and module file
    /// imports, the <see cref="PythonPoolOptions.InitFunction"/> runs); if it fails, the pool is unchanged, still
    /// serving the old code, and this throws <see cref="PythonReloadException"/> with Python's error. Else every older
    /// worker is replaced, each replacement started before its worker leaves, and this returns once no old worker is
    /// idle or starting: no call starts on old code after it returns. See <see cref="Pool{TWorker}.ReloadAsync(CancellationToken)"/>.
    /// </summary>
    /// <param name="cancellationToken">Stops the wait; a reload whose canary has started goes on.</param>
    /// <exception cref="PythonReloadException">The new code did not start; nothing changed.</exception>
    /// <exception cref="PoolStoppedException">The pool is stopping or stopped, or stopped during the reload.</exception>
    public Task ReloadAsync(CancellationToken cancellationToken = default) => ReloadAsync(source: null, cancellationToken);

    /// <summary>
    /// As <see cref="ReloadAsync(CancellationToken)"/>, saying who asked: <paramref name="source"/> is the
    /// <see cref="PoolEvent.Source"/> of the event it publishes.
    /// </summary>
    /// <param name="source">Who asked (<c>"file watcher"</c>, <c>"dashboard"</c>); <see langword="null"/> for nobody in particular.</param>
    /// <param name="cancellationToken">Stops the wait; a reload whose canary has started goes on.</param>
    /// <exception cref="PythonReloadException">The new code did not start; nothing changed.</exception>
    public async Task ReloadAsync(string? source, CancellationToken cancellationToken = default)
    {
        var forkServer = _forkServer;
        try
        {
            await _pool.ReloadAsync(
                source,
                forkServer is null ? null : forkServer.RebuildAsync,
                cancellationToken).ConfigureAwait(false);
        }
        catch (Exception e) when (e is WorkerStartException or PythonStartException)
        {
            var start = e as PythonStartException ?? e.InnerException as PythonStartException;
            string what = start?.PythonType is { } type ? $"{type}: {start.PythonMessage}" : (start ?? e).Message;
            throw new PythonReloadException(
                $"Pool '{Name}' was not reloaded: the new code failed to start ({what}). The pool is unchanged and serves the code it had.",
                Name,
                start,
                e);
        }
    }

    /// <summary>
    /// Kills one worker's process at once (SIGKILL, by the pid the pool holds) and completes when the pool has seen
    /// it exit; a replacement process starts as after any crash. A call running on it fails with
    /// <see cref="PythonWorkerCrashedException"/> (retried on another worker under <see cref="PythonPoolOptions.MaxRetries"/>).
    /// The pool's <see cref="PoolEventKind.WorkerKilled"/> event carries the exit code, the signal and the last lines of stderr.
    /// See <see cref="IPool.KillWorkerAsync"/>.
    /// </summary>
    /// <inheritdoc cref="IPool.KillWorkerAsync" path="/param"/>
    /// <inheritdoc cref="IPool.KillWorkerAsync" path="/returns"/>
    public Task<WorkerKillResult> KillWorkerAsync(int workerId, string? source = null, CancellationToken cancellationToken = default)
        => _pool.KillWorkerAsync(workerId, source, cancellationToken);

    /// <inheritdoc />
    public PoolEventSubscription SubscribeToEvents(int capacity = PoolEventSubscription.DefaultCapacity)
        => _pool.SubscribeToEvents(capacity);

    /// <inheritdoc />
    /// <remarks>The fork server's template, if any, stops after the workers.</remarks>
    public async Task StopAsync(CancellationToken cancellationToken = default)
    {
        await _pool.StopAsync(cancellationToken).ConfigureAwait(false);
        if (_forkServer is not null)
        {
            await _forkServer.DisposeAsync().ConfigureAwait(false);
        }
    }

    /// <summary>Stops the pool and every worker process, then the fork server's template, if any.</summary>
    public async ValueTask DisposeAsync()
    {
        await _pool.DisposeAsync().ConfigureAwait(false);
        if (_forkServer is not null)
        {
            await _forkServer.DisposeAsync().ConfigureAwait(false);
        }
    }

    private async Task<T> RunAsync<T>(
        string module, string function, PythonCallOptions? options, Func<PythonWorker, CancellationToken, Task<T>> call, CancellationToken cancellationToken)
    {
        int maxRetries = options?.RetriesFor(_maxRetries) ?? _maxRetries;
        for (int attempt = 0; ; attempt++)
        {
            var lease = await (options?.CheckoutTimeout is { } checkoutTimeout
                ? _pool.CheckoutAsync(checkoutTimeout, cancellationToken)
                : _pool.CheckoutAsync(cancellationToken)).ConfigureAwait(false);
            try
            {
                return await call(lease.Worker, cancellationToken).ConfigureAwait(false);
            }
            catch (Exception e) when (attempt < maxRetries && !cancellationToken.IsCancellationRequested
                && e is PythonWorkerCrashedException or PythonCallTimeoutException)
            {
                // Retry on another worker: a crashed one is gone already; one that timed out, even if it survived
                // the interrupt, is replaced rather than trusted with the retry.
                lease.MarkBroken();
                PythonLog.Retrying(_logger, module + "." + function, attempt + 2, maxRetries + 1, e.Message);
            }
            catch (Exception e) when (cancellationToken.IsCancellationRequested
                && e is PythonWorkerCrashedException or PythonCallTimeoutException)
            {
                // The worker failed while (or just before) the caller gave up: the caller asked to stop, so it gets
                // its cancellation, whichever came first; the failure is kept as the cause.
                throw new OperationCanceledException(
                    $"The call to {module}.{function} was cancelled; its worker also failed: {e.Message}", e, cancellationToken);
            }
            finally
            {
                lease.Dispose();
            }
        }
    }
}
