using System.Collections.Concurrent;
using System.Runtime.CompilerServices;
using System.Text.Json;
using System.Text.Json.Serialization.Metadata;
using System.Threading.Channels;
using Lifeguard.Python;
using Microsoft.Extensions.Logging;
using Microsoft.Extensions.Logging.Abstractions;
using RabbitMQ.Client;
using RabbitMQ.Client.Events;
using RabbitMQ.Client.Exceptions;

namespace Lifeguard.RabbitMQ;

/// <summary>
/// A Python pool that spans machines: each call is a message on the pool's RabbitMQ call queue, run by whichever of
/// its hosts (<c>lifeguard serve</c>, <c>ServeOnRabbitMQ</c>) is free, its reply sent straight back. As an
/// <see cref="IPythonCaller"/>, it takes the place of a local <see cref="PythonPool"/> without a change to the code
/// that calls it or to generated bindings. Thread-safe.
/// </summary>
/// <remarks>
/// <para>
/// A call's deadline is <see cref="RemotePythonPoolOptions.CheckoutTimeout"/> plus its call timeout; the message
/// carries the time left (never a clock reading), expires in the queue if no host starts it by then, and the caller
/// gets a result or a typed error by the deadline in every case. Cancelling a call interrupts it on its host.
/// </para>
/// <para>
/// Errors arrive typed, as from a local pool: <see cref="PythonException"/>, <see cref="PythonWorkerCrashedException"/>,
/// <see cref="PythonCallTimeoutException"/>, <see cref="PythonSerializationException"/>,
/// <see cref="PoolRejectedException"/> (the call queue is full); and the remote ones,
/// <see cref="RemoteHostLostException"/>, <see cref="PythonPoisonInputException"/> and
/// <see cref="BrokerUnavailableException"/>. Leases and host callbacks are not available remotely.
/// </para>
/// </remarks>
public sealed class RemotePythonPool : IPythonCaller, IAsyncDisposable
{
    /// <summary>A host not heard of for this long is left out of <see cref="Hosts"/>.</summary>
    public static readonly TimeSpan HostExpiry = TimeSpan.FromSeconds(10);

    private const int MaxPooledWriters = 32;

    private readonly RemotePythonPoolOptions _options;
    private readonly PythonCallCodec _codec;
    private readonly ILogger _logger;
    private readonly TimeProvider _time;
    private readonly IConnection _connection;
    private readonly IChannel _channel;
    private readonly string _callQueue;
    private readonly ConcurrentDictionary<string, Pending> _pending = new(StringComparer.Ordinal);
    private readonly ConcurrentDictionary<string, RemoteHostStatus> _hosts = new(StringComparer.Ordinal);
    private readonly ConcurrentBag<FrameWriter> _writers = [];
    private TaskCompletionSource _recovered = NewRecovery(completed: true);
    private long _calls;
    private long _timeouts;
    private long _rejections;
    private int _disposed;

    private RemotePythonPool(RemotePythonPoolOptions options, ILogger logger, IConnection connection, IChannel channel)
    {
        _options = options;
        _codec = new PythonCallCodec(PythonJson.CreateOptions(options.JsonSerializerOptions, options.AllowNamedFloatingPointLiterals), options.Name);
        _logger = logger;
        _time = options.TimeProvider;
        _connection = connection;
        _channel = channel;
        _callQueue = Topology.CallQueue(options.Name);
    }

    /// <inheritdoc />
    public string Name => _options.Name;

    /// <summary>The hosts serving the pool, as their last status message told, heard of within <see cref="HostExpiry"/>.</summary>
    public IReadOnlyList<RemoteHostStatus> Hosts
    {
        get
        {
            var now = _time.GetUtcNow();
            return [.. _hosts.Values.Where(h => now - h.LastSeen <= HostExpiry).OrderBy(h => h.Host, StringComparer.Ordinal)];
        }
    }

    /// <summary>
    /// Whether calls can be sent now: the connection and its channel are open and, after a lost connection, its
    /// recovery (the reply consumer and the caller's queue declared again) has finished.
    /// </summary>
    public bool IsConnected => Volatile.Read(ref _disposed) == 0 && _connection.IsOpen && _channel.IsOpen && Volatile.Read(ref _recovered).Task.IsCompleted;

    /// <summary>Connects to the broker and declares the pool's queues; the hosts may start before or after.</summary>
    /// <exception cref="ArgumentException">The options are invalid, or no broker is named.</exception>
    /// <exception cref="BrokerUnavailableException">The broker cannot be reached.</exception>
    /// <exception cref="InvalidOperationException">The call queue exists with another <see cref="RemotePythonPoolOptions.MaxQueueLength"/>.</exception>
    public static async Task<RemotePythonPool> StartAsync(RemotePythonPoolOptions options, CancellationToken cancellationToken = default)
    {
        ArgumentNullException.ThrowIfNull(options);
        options.Validate();
        var uri = Broker.Resolve(options.Broker, $"Remote Python pool '{options.Name}'");
        var logger = (options.LoggerFactory ?? NullLoggerFactory.Instance).CreateLogger("Lifeguard.RabbitMQ.RemotePool");
        var factory = Broker.CreateFactory(uri, $"lifeguard caller of {options.Name}", options.ConfigureConnection);
        IConnection connection;
        try
        {
            connection = await factory.CreateConnectionAsync(cancellationToken).ConfigureAwait(false);
        }
        catch (Exception e) when (Broker.IsUnavailable(e))
        {
            throw new BrokerUnavailableException(
                $"Remote Python pool '{options.Name}' could not reach the broker {Broker.Redact(uri)}: {e.InnerException?.Message ?? e.Message}", options.Name, e);
        }

        try
        {
            var channel = await connection.CreateChannelAsync(
                new CreateChannelOptions(publisherConfirmationsEnabled: true, publisherConfirmationTrackingEnabled: true), cancellationToken).ConfigureAwait(false);
            await Topology.DeclareAsync(channel, options.Name, options.MaxQueueLength, cancellationToken).ConfigureAwait(false);
            var pool = new RemotePythonPool(options, logger, connection, channel);
            await pool.BeginAsync(cancellationToken).ConfigureAwait(false);
            return pool;
        }
        catch
        {
            await connection.DisposeAsync().ConfigureAwait(false);
            throw;
        }
    }

    private static TaskCompletionSource NewRecovery(bool completed)
    {
        var source = new TaskCompletionSource(TaskCreationOptions.RunContinuationsAsynchronously);
        if (completed)
        {
            source.SetResult();
        }

        return source;
    }

    private async Task BeginAsync(CancellationToken cancellationToken)
    {
        _connection.ConnectionShutdownAsync += (_, e) =>
        {
            if (Lost(e.ReplyText))
            {
                RabbitMqLog.CallerConnectionLost(_logger, Name, e.ReplyText);
            }

            return Task.CompletedTask;
        };

        // The channel may report its end before the connection does: either one starts the wait for recovery.
        _channel.ChannelShutdownAsync += (_, e) =>
        {
            Lost(e.ReplyText);
            return Task.CompletedTask;
        };
        _connection.RecoverySucceededAsync += (_, _) =>
        {
            RabbitMqLog.CallerReconnected(_logger, Name);
            Volatile.Read(ref _recovered).TrySetResult();
            return Task.CompletedTask;
        };

        var replies = new AsyncEventingBasicConsumer(_channel);
        replies.ReceivedAsync += (_, delivery) =>
        {
            OnReply(delivery);
            return Task.CompletedTask;
        };
        await _channel.BasicConsumeAsync(Wire.DirectReplyTo, autoAck: true, replies, cancellationToken).ConfigureAwait(false);

        string statusQueue = $"lifeguard.{Name}.caller.{Guid.NewGuid():N}";
        await _channel.QueueDeclareAsync(statusQueue, durable: false, exclusive: true, autoDelete: true, cancellationToken: cancellationToken).ConfigureAwait(false);
        await _channel.QueueBindAsync(statusQueue, Topology.StatusExchange(Name), "", cancellationToken: cancellationToken).ConfigureAwait(false);
        var status = new AsyncEventingBasicConsumer(_channel);
        status.ReceivedAsync += (_, delivery) =>
        {
            OnStatus(delivery.Body.Span);
            return Task.CompletedTask;
        };
        await _channel.BasicConsumeAsync(statusQueue, autoAck: true, status, cancellationToken).ConfigureAwait(false);
    }

    /// <summary>
    /// The connection or its channel went: calls wait for recovery (a new signal, only when the last one had
    /// completed: a second report of the same loss keeps the first one's), and the calls waiting for a reply fail,
    /// their replies lost with the channel (direct reply-to). False when this pool is disposed, or the loss was known.
    /// </summary>
    private bool Lost(string reason)
    {
        if (Volatile.Read(ref _disposed) != 0)
        {
            return false;
        }

        var current = Volatile.Read(ref _recovered);
        bool first = current.Task.IsCompleted && Interlocked.CompareExchange(ref _recovered, NewRecovery(completed: false), current) == current;
        var lost = new BrokerUnavailableException(
            $"The connection of remote pool '{Name}' to the broker was lost ({reason}); the reply of this call is lost with it.", Name, null);
        foreach (var pending in _pending.Values)
        {
            pending.Fail(lost);
        }

        return first;
    }

    private void OnReply(BasicDeliverEventArgs delivery)
    {
        string? id = delivery.BasicProperties.CorrelationId;
        if (id is null || !_pending.TryGetValue(id, out var pending))
        {
            // A second reply to a call that had its first (an idempotent call run twice), or one that ended.
            RabbitMqLog.StrayReply(_logger, Name, id ?? "(none)");
            return;
        }

        if (delivery.Body.Length > _options.MaxFrameSize)
        {
            pending.Fail(new PythonProtocolException(
                $"A host of remote pool '{Name}' sent a reply of {delivery.Body.Length} bytes, over MaxFrameSize ({_options.MaxFrameSize}).", Name));
            return;
        }

        pending.Deliver(delivery.Body.ToArray(), delivery.BasicProperties.ReplyTo);
    }

    private void OnStatus(ReadOnlySpan<byte> body)
    {
        try
        {
            if (JsonSerializer.Deserialize(body, RabbitMqJsonContext.Default.RemoteHostStatus) is { Host.Length: > 0 } status)
            {
                _hosts[status.Host] = status with { LastSeen = _time.GetUtcNow() };
            }
        }
        catch (JsonException)
        {
            // Not a host's status: ignored.
        }
    }

    /// <inheritdoc />
    public Task<T?> CallAsync<T>(
        string module,
        string function,
        IReadOnlyList<object?>? args = null,
        IReadOnlyDictionary<string, object?>? kwargs = null,
        PythonCallOptions? options = null,
        CancellationToken cancellationToken = default)
        => CallAsync(module, function, (JsonTypeInfo<T>)_codec.Json.GetTypeInfo(typeof(T)), args, kwargs, options, cancellationToken);

    /// <inheritdoc />
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
        return CallCoreAsync(module, function, args, kwargs, options, resultType, static (frame, typeInfo) => JsonSerializer.Deserialize(frame.Json.Span, typeInfo), cancellationToken);
    }

    /// <inheritdoc />
    public Task<JsonElement> CallAsync(
        string module,
        string function,
        IReadOnlyList<object?>? args = null,
        IReadOnlyDictionary<string, object?>? kwargs = null,
        PythonCallOptions? options = null,
        CancellationToken cancellationToken = default)
        => CallCoreAsync(module, function, args, kwargs, options, _codec, static (frame, codec) => codec.ReadUntyped(frame), cancellationToken);

    /// <inheritdoc />
    public IAsyncEnumerable<T?> StreamAsync<T>(
        string module,
        string function,
        IReadOnlyList<object?>? args = null,
        IReadOnlyDictionary<string, object?>? kwargs = null,
        PythonCallOptions? options = null,
        CancellationToken cancellationToken = default)
        => StreamAsync(module, function, (JsonTypeInfo<T>)_codec.Json.GetTypeInfo(typeof(T)), args, kwargs, options, cancellationToken);

    /// <inheritdoc />
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
        var call = Prepare(module, function, options, stream: true);
        return StreamCoreAsync(call, args, kwargs, itemType, static (frame, typeInfo) => JsonSerializer.Deserialize(frame.Json.Span, typeInfo), cancellationToken);
    }

    /// <inheritdoc />
    public IAsyncEnumerable<JsonElement> StreamAsync(
        string module,
        string function,
        IReadOnlyList<object?>? args = null,
        IReadOnlyDictionary<string, object?>? kwargs = null,
        PythonCallOptions? options = null,
        CancellationToken cancellationToken = default)
    {
        var call = Prepare(module, function, options, stream: true);
        return StreamCoreAsync(call, args, kwargs, _codec, static (frame, codec) => codec.ReadUntyped(frame), cancellationToken);
    }

    /// <summary>Not supported: a remote pool runs each call on whichever host takes it, so no worker can be leased.</summary>
    /// <exception cref="NotSupportedException">Always.</exception>
    public ValueTask<Lease<PythonWorker>> CheckoutAsync(CancellationToken cancellationToken = default)
        => throw new NotSupportedException(
            $"Remote Python pool '{Name}' cannot lease a worker (CheckoutAsync): each call runs on whichever host takes it. Use a local PythonPool for calls that must share a process.");

    /// <summary>Not supported: Python code on a remote host cannot call back into this process.</summary>
    /// <exception cref="NotSupportedException">Always.</exception>
    public void AddCallback(string name, HostCallback callback)
        => throw new NotSupportedException(
            $"Remote Python pool '{Name}' cannot take host callbacks ('{name}'): Python code runs on another machine and cannot call into this process. Register callbacks on the serving host's own pool (PythonPoolOptions.Callbacks) instead.");

    /// <summary>
    /// The pool as its callers see it: the hosts heard of within <see cref="HostExpiry"/> (as its workers, one per host,
    /// with their capacity, busy workers, calls served and last status in <see cref="WorkerStatus.Details"/>), the
    /// capacity they add up to, and this caller's calls waiting for a reply.
    /// </summary>
    public PoolStatus GetStatus()
    {
        var hosts = Hosts.Where(h => h.Serving).ToList();
        int capacity = hosts.Sum(h => h.Capacity);
        int busy = Math.Min(capacity, hosts.Sum(h => h.Busy));
        return new PoolStatus
        {
            Name = Name,
            State = !IsConnected ? PoolState.Backoff : capacity == 0 ? PoolState.Full : busy >= capacity ? PoolState.Full : PoolState.Ready,
            Size = capacity,
            MaxOverflow = 0,
            Idle = capacity - busy,
            Busy = busy,
            Starting = 0,
            Waiters = _pending.Count,
            TotalCheckouts = Interlocked.Read(ref _calls),
            TotalTimeouts = Interlocked.Read(ref _timeouts),
            TotalRejections = Interlocked.Read(ref _rejections),
            TotalRestarts = 0,
            TotalDeaths = 0,
            TotalStartFailures = 0,
            Workers = [.. hosts.Select((h, i) => new WorkerStatus(
                i + 1,
                h.Busy > 0 ? WorkerState.Busy : WorkerState.Idle,
                h.CallsServed,
                TimeSpan.Zero,
                RetirePending: false,
                new Dictionary<string, object?>(StringComparer.Ordinal)
                {
                    ["host"] = h.Host,
                    ["pid"] = h.ProcessId,
                    ["capacity"] = h.Capacity,
                    ["busy"] = h.Busy,
                    ["calls_served"] = h.CallsServed,
                    ["calls_failed"] = h.CallsFailed,
                    ["peak_busy"] = h.PeakBusy,
                    ["last_seen"] = h.LastSeen,
                })
            {
                ProcessId = h.ProcessId,
            })],
        };
    }

    /// <summary>Closes the connection. Calls still waiting fail with <see cref="BrokerUnavailableException"/>.</summary>
    public async ValueTask DisposeAsync()
    {
        if (Interlocked.Exchange(ref _disposed, 1) != 0)
        {
            return;
        }

        var closed = new BrokerUnavailableException($"Remote Python pool '{Name}' was disposed while this call waited for its reply.", Name, null);
        foreach (var pending in _pending.Values)
        {
            pending.Fail(closed);
        }

        // Calls waiting for the connection's recovery end now (IsConnected is false from here on).
        Volatile.Read(ref _recovered).TrySetResult();

        try
        {
            await _channel.CloseAsync(CancellationToken.None).ConfigureAwait(false);
            await _connection.CloseAsync(CancellationToken.None).ConfigureAwait(false);
        }
        catch (Exception e) when (Broker.IsUnavailable(e))
        {
        }

        await _channel.DisposeAsync().ConfigureAwait(false);
        await _connection.DisposeAsync().ConfigureAwait(false);
    }

    /// <summary>One call's settings, taken when it is made.</summary>
    private sealed record CallPlan(
        string Module,
        string Function,
        string Name,
        TimeSpan CallTimeout,
        TimeSpan CheckoutTimeout,
        int MaxRetries,
        bool Idempotent,
        bool IncludeArguments,
        int Window)
    {
        /// <summary>Checkout plus call timeout: the time a call waits for its reply, from its publish.</summary>
        public TimeSpan Deadline => CallTimeout == Timeout.InfiniteTimeSpan || CheckoutTimeout == Timeout.InfiniteTimeSpan
            ? Timeout.InfiniteTimeSpan
            : CheckoutTimeout + CallTimeout;
    }

    private CallPlan Prepare(string module, string function, PythonCallOptions? options, bool stream)
    {
        ArgumentException.ThrowIfNullOrEmpty(module);
        ArgumentException.ThrowIfNullOrEmpty(function);
        ObjectDisposedException.ThrowIf(Volatile.Read(ref _disposed) != 0, this);
        options = options?.Copy();
        options?.ValidateForPool(nameof(options));
        int retries = stream ? 0 : options?.RetriesFor(_options.MaxRetries) ?? _options.MaxRetries;
        return new CallPlan(
            module,
            function,
            module + "." + function,
            options?.CallTimeout ?? _options.CallTimeout,
            options?.CheckoutTimeout ?? _options.CheckoutTimeout,
            retries,
            !stream && (options?.Idempotent == true || retries > 0),
            options?.IncludeArgumentsInErrors ?? _options.IncludeArgumentsInErrors,
            stream ? options?.StreamWindow ?? _options.StreamWindow : 0);
    }

    private byte[] Encode(CallPlan call, IReadOnlyList<object?>? args, IReadOnlyDictionary<string, object?>? kwargs)
    {
        if (!_writers.TryTake(out var writer))
        {
            writer = new FrameWriter(Stream.Null, _options.MaxFrameSize);
        }

        try
        {
            _codec.WriteCall(writer, call.Module, call.Function, args, kwargs, spans: false, call.Window);
            return writer.ToArray(FrameKind.Call, 0);
        }
        catch (FrameTooLargeException)
        {
            throw PythonErrors.ArgumentsTooLarge(Name, call.Name, _options.MaxFrameSize);
        }
        finally
        {
            if (_writers.Count < MaxPooledWriters)
            {
                _writers.Add(writer);
            }
        }
    }

    private async Task<T> CallCoreAsync<T, TState>(
        string module,
        string function,
        IReadOnlyList<object?>? args,
        IReadOnlyDictionary<string, object?>? kwargs,
        PythonCallOptions? options,
        TState state,
        Func<Frame, TState, T> read,
        CancellationToken cancellationToken)
    {
        var call = Prepare(module, function, options, stream: false);
        cancellationToken.ThrowIfCancellationRequested();
        var body = Encode(call, args, kwargs);
        string where = call.IncludeArguments && args is not null ? $"{call.Name}({_codec.ArgumentsForMessage(args)})" : call.Name;
        for (int attempt = 0; ; attempt++)
        {
            try
            {
                return await AttemptAsync(call, body, where, state, read, cancellationToken).ConfigureAwait(false);
            }
            catch (Exception e) when (attempt < call.MaxRetries && !cancellationToken.IsCancellationRequested
                && e is PythonWorkerCrashedException or PythonCallTimeoutException)
            {
                // A new message, on whichever host takes it.
                RabbitMqLog.Retrying(_logger, Name, call.Name, attempt + 2, call.MaxRetries + 1, e.Message);
            }
        }
    }

    private async Task<T> AttemptAsync<T, TState>(
        CallPlan call, byte[] body, string where, TState state, Func<Frame, TState, T> read, CancellationToken cancellationToken)
    {
        long started = _time.GetTimestamp();
        while (true)
        {
            var pending = new Pending(stream: false, 0);
            byte[] reply;
            try
            {
                await PublishCallAsync(call, body, pending, started, cancellationToken).ConfigureAwait(false);
                reply = await WaitAsync(pending, call, started, cancellationToken).ConfigureAwait(false);
            }
            catch (BrokerUnavailableException) when (call.Idempotent && pending.Published && !cancellationToken.IsCancellationRequested)
            {
                // The reply was lost with the connection, and the call may run again: sent again once the connection
                // is back, within its deadline.
                if (!await RecoveredWithinAsync(call, started, cancellationToken).ConfigureAwait(false))
                {
                    throw;
                }

                continue;
            }
            finally
            {
                _pending.TryRemove(pending.Id, out _);
            }

            return ReadReply(reply, call, where, state, read);
        }
    }

    /// <summary>Waits for the connection's recovery within the call's deadline; false when it did not come back in time.</summary>
    private async Task<bool> RecoveredWithinAsync(CallPlan call, long started, CancellationToken cancellationToken)
    {
        var left = Remaining(call, started);
        if (left <= TimeSpan.Zero && left != Timeout.InfiniteTimeSpan)
        {
            return false;
        }

        if (Volatile.Read(ref _recovered).Task.IsCompleted && !IsConnected)
        {
            // The publish failed on a closed channel before either shutdown handler ran: the wait starts here.
            Lost("the channel is closed");
        }

        try
        {
            await Volatile.Read(ref _recovered).Task.WaitAsync(left, _time, cancellationToken).ConfigureAwait(false);
            return IsConnected;
        }
        catch (Exception e) when (e is TimeoutException or OperationCanceledException)
        {
            return false;
        }
    }

    private TimeSpan Remaining(CallPlan call, long started)
        => call.Deadline == Timeout.InfiniteTimeSpan ? Timeout.InfiniteTimeSpan : call.Deadline - _time.GetElapsedTime(started);

    /// <summary>Publishes a call's message, confirmed by the broker within the checkout timeout (at least 1 s).</summary>
    private async Task PublishCallAsync(CallPlan call, byte[] body, Pending pending, long started, CancellationToken cancellationToken)
    {
        if (!IsConnected)
        {
            ObjectDisposedException.ThrowIf(Volatile.Read(ref _disposed) != 0, this);
            throw new BrokerUnavailableException(
                $"Remote Python pool '{Name}' is not connected to the broker (it reconnects by itself): {call.Name} was not sent.", Name, null);
        }

        var remaining = Remaining(call, started);
        if (remaining != Timeout.InfiniteTimeSpan && remaining <= TimeSpan.Zero)
        {
            Interlocked.Increment(ref _timeouts);
            throw new PythonCallTimeoutException(
                $"{call.Name} on remote pool '{Name}' reached its deadline ({call.Deadline}: CheckoutTimeout + CallTimeout) before it could be sent again.",
                Name, call.Name, call.CallTimeout, workerKilled: false);
        }

        var headers = new Dictionary<string, object?>(StringComparer.Ordinal)
        {
            [Wire.VersionHeader] = Wire.Version,
            [Wire.CallTimeoutHeader] = call.CallTimeout == Timeout.InfiniteTimeSpan ? -1L : (long)Math.Ceiling(call.CallTimeout.TotalMilliseconds),
            [Wire.IdempotentHeader] = call.Idempotent,
        };
        if (remaining != Timeout.InfiniteTimeSpan)
        {
            headers[Wire.RemainingHeader] = (long)Math.Ceiling(remaining.TotalMilliseconds);
        }

        if (call.Window > 0)
        {
            headers[Wire.StreamWindowHeader] = call.Window;
        }

        var properties = new BasicProperties
        {
            CorrelationId = pending.Id,
            MessageId = pending.Id,
            ReplyTo = Wire.DirectReplyTo,
            Type = call.Window > 0 ? Wire.StreamType : Wire.CallType,
            Persistent = true,
            Expiration = remaining == Timeout.InfiniteTimeSpan ? null : Wire.Milliseconds(remaining),
            Headers = headers,
        };

        _pending[pending.Id] = pending;
        Interlocked.Increment(ref _calls);
        var confirm = call.CheckoutTimeout == Timeout.InfiniteTimeSpan ? Timeout.InfiniteTimeSpan
            : call.CheckoutTimeout < TimeSpan.FromSeconds(1) ? TimeSpan.FromSeconds(1) : call.CheckoutTimeout;
        using var bound = new CancellationTokenSource(confirm, _time);
        using var linked = CancellationTokenSource.CreateLinkedTokenSource(bound.Token, cancellationToken);
        try
        {
            pending.Published = true;
            await _channel.BasicPublishAsync("", _callQueue, mandatory: true, properties, body, linked.Token).ConfigureAwait(false);
        }
        catch (PublishException e) when (!e.IsReturn)
        {
            // Nacked: the queue is at its length limit (reject-publish), so the broker refused it. Nothing was queued.
            Interlocked.Increment(ref _rejections);
            throw new PoolRejectedException(
                $"Remote pool '{Name}' refused {call.Name}: its call queue {_callQueue} is full (MaxQueueLength {_options.MaxQueueLength}).", Name, GetStatus());
        }
        catch (PublishException)
        {
            throw new BrokerUnavailableException(
                $"The broker returned {call.Name}: the call queue {_callQueue} of remote pool '{Name}' does not exist (was it deleted?).", Name, null);
        }
        catch (OperationCanceledException) when (cancellationToken.IsCancellationRequested)
        {
            // It may have been queued: the hosts are told.
            SendCancel(pending.Id, call, started);
            throw new OperationCanceledException(cancellationToken);
        }
        catch (OperationCanceledException e) when (!bound.IsCancellationRequested)
        {
            // The channel ended under the publish, its confirm with it.
            throw new BrokerUnavailableException(
                $"Remote Python pool '{Name}' lost the broker while it sent {call.Name}; it may have been queued.", Name, e);
        }
        catch (OperationCanceledException)
        {
            SendCancel(pending.Id, call, started);
            Interlocked.Increment(ref _timeouts);
            throw new PoolTimeoutException(
                $"The broker did not confirm {call.Name} for remote pool '{Name}' within {confirm} (CheckoutTimeout).", Name, confirm, GetStatus());
        }
        catch (Exception e) when (Broker.IsUnavailable(e))
        {
            throw new BrokerUnavailableException(
                $"Remote Python pool '{Name}' could not send {call.Name}: the broker is unavailable ({e.Message}).", Name, e);
        }
    }

    /// <summary>Waits for a reply until the call's deadline: past it, or on the token, the hosts are told to stop it.</summary>
    private async Task<byte[]> WaitAsync(Pending pending, CallPlan call, long started, CancellationToken cancellationToken)
    {
        var left = Remaining(call, started);
        try
        {
            return await pending.Reply.Task.WaitAsync(left == Timeout.InfiniteTimeSpan ? Timeout.InfiniteTimeSpan : left < TimeSpan.Zero ? TimeSpan.Zero : left, _time, cancellationToken).ConfigureAwait(false);
        }
        catch (TimeoutException)
        {
            SendCancel(pending.Id, call, started);
            Interlocked.Increment(ref _timeouts);
            throw new PythonCallTimeoutException(
                $"{call.Name} on remote pool '{Name}' had no reply within its deadline ({call.Deadline}: CheckoutTimeout {call.CheckoutTimeout} + CallTimeout {call.CallTimeout}); its host was told to stop it.",
                Name,
                call.Name,
                call.CallTimeout,
                workerKilled: false);
        }
        catch (OperationCanceledException) when (cancellationToken.IsCancellationRequested)
        {
            SendCancel(pending.Id, call, started);
            throw new OperationCanceledException(cancellationToken);
        }
    }

    private T ReadReply<T, TState>(byte[] reply, CallPlan call, string where, TState state, Func<Frame, TState, T> read)
    {
        var frame = ReadFrame(reply, call);
        return frame.Kind switch
        {
            FrameKind.Result => ReadResult(frame, call, state, read),
            Wire.RemoteError => throw Wire.ReadError(frame, Name, call.Name, where, call.CallTimeout),
            _ => throw new PythonProtocolException($"A host of remote pool '{Name}' answered {call.Name} with a {frame.Kind} frame.", Name),
        };
    }

    private Frame ReadFrame(byte[] reply, CallPlan call)
    {
        try
        {
            return FrameReader.ParseWhole(reply, _options.MaxFrameSize);
        }
        catch (PythonProtocolException e)
        {
            throw new PythonProtocolException($"A host of remote pool '{Name}' sent a malformed reply to {call.Name}: {e.Message}", Name, e);
        }
    }

    private T ReadResult<T, TState>(Frame frame, CallPlan call, TState state, Func<Frame, TState, T> read)
    {
        try
        {
            return _codec.ReadResult(frame, state, read, call.Name);
        }
        catch (MalformedReplyException e)
        {
            throw new PythonProtocolException($"A host of remote pool '{Name}' sent a malformed reply: {e.Message}", Name, e);
        }
        catch (PythonProtocolException e) when (e.PoolName is null)
        {
            throw new PythonProtocolException($"A host of remote pool '{Name}' sent a malformed reply to {call.Name}: {e.Message}", Name, e);
        }
    }

    /// <summary>Tells every host to stop a call (the one running it interrupts it; the others remember it until its deadline).</summary>
    private void SendCancel(string id, CallPlan call, long started)
    {
        if (id.Length == 0 || !IsConnected)
        {
            return;
        }

        var left = Remaining(call, started);
        var properties = new BasicProperties
        {
            CorrelationId = id,
            Type = Wire.CancelType,
            Headers = new Dictionary<string, object?>(StringComparer.Ordinal)
            {
                [Wire.RemainingHeader] = left == Timeout.InfiniteTimeSpan ? (long)TimeSpan.FromMinutes(10).TotalMilliseconds : Math.Max(0L, (long)left.TotalMilliseconds) + 1000,
            },
        };
        _ = SendControlAsync(Topology.ControlExchange(Name), "", properties, ReadOnlyMemory<byte>.Empty, id);
    }

    private async Task SendControlAsync(string exchange, string routingKey, BasicProperties properties, ReadOnlyMemory<byte> body, string id)
    {
        try
        {
            using var bound = new CancellationTokenSource(TimeSpan.FromSeconds(5), _time);
            await _channel.BasicPublishAsync(exchange, routingKey, mandatory: false, properties, body, bound.Token).ConfigureAwait(false);
        }
        catch (Exception e) when (Broker.IsUnavailable(e) || e is PublishException or OperationCanceledException)
        {
            RabbitMqLog.CancelNotSent(_logger, Name, id, e.Message);
        }
    }

    private async IAsyncEnumerable<TItem> StreamCoreAsync<TItem, TState>(
        CallPlan call,
        IReadOnlyList<object?>? args,
        IReadOnlyDictionary<string, object?>? kwargs,
        TState state,
        Func<Frame, TState, TItem> read,
        [EnumeratorCancellation] CancellationToken cancellationToken = default)
    {
        cancellationToken.ThrowIfCancellationRequested();
        var body = Encode(call, args, kwargs);
        string where = call.IncludeArguments && args is not null ? $"{call.Name}({_codec.ArgumentsForMessage(args)})" : call.Name;
        int creditEvery = Math.Max(1, call.Window / 2);
        long started = _time.GetTimestamp();
        var pending = new Pending(stream: true, call.Window);
        bool finished = false;
        long received = 0, credited = 0;
        try
        {
            await PublishCallAsync(call, body, pending, started, cancellationToken).ConfigureAwait(false);
            while (true)
            {
                if (received - credited >= creditEvery && pending.HostAddress is { } address)
                {
                    await SendCreditAsync(pending.Id, address, received - credited).ConfigureAwait(false);
                    credited = received;
                }

                var reply = await NextAsync(pending, call, started, first: received == 0, cancellationToken).ConfigureAwait(false);
                var frame = ReadFrame(reply, call);
                if (frame.Kind == FrameKind.Item)
                {
                    received++;
                    yield return ReadResult(frame, call, state, read);
                    continue;
                }

                finished = true;
                if (frame.Kind == FrameKind.StreamEnd)
                {
                    CheckEnd(frame, call, received);
                    yield break;
                }

                throw frame.Kind == Wire.RemoteError
                    ? Wire.ReadError(frame, Name, call.Name, where, call.CallTimeout)
                    : new PythonProtocolException($"A host of remote pool '{Name}' sent a {frame.Kind} frame in the stream {call.Name}.", Name);
            }
        }
        finally
        {
            _pending.TryRemove(pending.Id, out _);
            if (!finished && pending.Published)
            {
                if (pending.HostAddress is { } address && !cancellationToken.IsCancellationRequested)
                {
                    // Ended early: the host closes the generator, so its finally blocks run.
                    _ = SendControlAsync("", address, new BasicProperties { CorrelationId = pending.Id, Type = Wire.CloseType }, ReadOnlyMemory<byte>.Empty, pending.Id);
                }
                else
                {
                    SendCancel(pending.Id, call, started);
                }
            }
        }
    }

    private async Task<byte[]> NextAsync(Pending pending, CallPlan call, long started, bool first, CancellationToken cancellationToken)
    {
        var limit = first ? (TimeSpan?)null : call.CallTimeout;
        var read = pending.Items!.Reader.ReadAsync(CancellationToken.None).AsTask();
        try
        {
            return await WaitStreamAsync(read, pending, call, started, limit, cancellationToken).ConfigureAwait(false);
        }
        catch (ChannelClosedException e) when (e.InnerException is not null)
        {
            throw e.InnerException;
        }
    }

    private async Task<byte[]> WaitStreamAsync(Task<byte[]> read, Pending pending, CallPlan call, long started, TimeSpan? limit, CancellationToken cancellationToken)
    {
        var left = limit ?? Remaining(call, started);
        try
        {
            return await read.WaitAsync(left == Timeout.InfiniteTimeSpan ? Timeout.InfiniteTimeSpan : left < TimeSpan.Zero ? TimeSpan.Zero : left, _time, cancellationToken).ConfigureAwait(false);
        }
        catch (TimeoutException)
        {
            Interlocked.Increment(ref _timeouts);
            throw new PythonCallTimeoutException(
                limit is null
                    ? $"The stream {call.Name} on remote pool '{Name}' sent nothing within its deadline ({call.Deadline}: CheckoutTimeout + CallTimeout); its host was told to stop it."
                    : $"The stream {call.Name} on remote pool '{Name}' sent no next item within {left} (CallTimeout); its host was told to stop it.",
                Name,
                call.Name,
                call.CallTimeout,
                workerKilled: false);
        }
    }

    private async Task SendCreditAsync(string id, string address, long n)
    {
        var credit = System.Text.Encoding.UTF8.GetBytes($"{{\"n\":{n.ToString(System.Globalization.CultureInfo.InvariantCulture)}}}");
        await SendControlAsync("", address, new BasicProperties { CorrelationId = id, Type = Wire.CreditType }, credit, id).ConfigureAwait(false);
    }

    private void CheckEnd(Frame frame, CallPlan call, long received)
    {
        long items;
        try
        {
            using var end = JsonDocument.Parse(frame.Json);
            items = end.RootElement.GetProperty("items"u8).GetInt64();
        }
        catch (Exception e) when (e is JsonException or InvalidOperationException or KeyNotFoundException or FormatException)
        {
            throw new PythonProtocolException($"A host of remote pool '{Name}' ended the stream {call.Name} with a malformed end ({e.Message}).", Name, e);
        }

        if (items != received)
        {
            throw new PythonProtocolException($"A host of remote pool '{Name}' ended the stream {call.Name} after {items} items, but {received} arrived.", Name);
        }
    }

    /// <summary>A call waiting for its reply, or a stream for its items, by its call id.</summary>
    private sealed class Pending
    {
        public Pending(bool stream, int window)
        {
            if (stream)
            {
                // The host sends at most the window beyond the credit, then its end: a host that sends more breaks
                // the protocol, and the stream fails rather than buffer without bound.
                Items = Channel.CreateBounded<byte[]>(new BoundedChannelOptions(window + 2) { FullMode = BoundedChannelFullMode.DropWrite, SingleReader = true });
            }
        }

        public string Id { get; } = Guid.NewGuid().ToString("N");

        public TaskCompletionSource<byte[]> Reply { get; } = new(TaskCreationOptions.RunContinuationsAsynchronously);

        public Channel<byte[]>? Items { get; }

        /// <summary>The stream's host's own queue, for its credit and close, from the first item's reply-to.</summary>
        public string? HostAddress { get; private set; }

        /// <summary>Whether its message went to the broker (it may be queued or running): an early end tells the hosts.</summary>
        public bool Published { get; set; }

        public void Deliver(byte[] reply, string? replyTo)
        {
            if (Items is null)
            {
                Reply.TrySetResult(reply);
                return;
            }

            if (replyTo is { Length: > 0 })
            {
                HostAddress ??= replyTo;
            }

            if (!Items.Writer.TryWrite(reply))
            {
                Items.Writer.TryComplete(new PythonProtocolException("A host sent more stream items than the window allows."));
            }
        }

        public void Fail(Exception error)
        {
            Reply.TrySetException(error);
            Items?.Writer.TryComplete(error);
        }
    }
}
