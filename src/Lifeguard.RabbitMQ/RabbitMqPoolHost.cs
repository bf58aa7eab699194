using System.Collections.Concurrent;
using System.Globalization;
using System.Text.Json;
using Lifeguard.Python;
using Microsoft.Extensions.Logging;
using Microsoft.Extensions.Logging.Abstractions;
using RabbitMQ.Client;
using RabbitMQ.Client.Events;
using RabbitMQ.Client.Exceptions;

namespace Lifeguard.RabbitMQ;

/// <summary>
/// Serves a local <see cref="PythonPool"/>'s calls from its RabbitMQ call queue, so that <see cref="RemotePythonPool"/>
/// callers anywhere reach it: one of the competing hosts of the pool. Its prefetch is the pool's capacity
/// (<see cref="PoolOptions.Size"/> + <see cref="PoolOptions.MaxOverflow"/>), so it never holds a call it cannot start;
/// a delivery is acknowledged only once its reply is published. Thread-safe.
/// </summary>
/// <remarks>
/// The pool runs each call with no retries (retries are the caller's) and within the call's own deadline. A call whose
/// deadline passed in the queue is dropped unrun; a redelivered call (its host was lost) runs again only when its caller
/// marked it idempotent, and is answered <see cref="RemoteHostLostException"/> otherwise; a message delivered
/// <see cref="RabbitMqServeOptions.PoisonThreshold"/> times is moved to the dead-letter queue. See docs/cluster.md.
/// </remarks>
public sealed class RabbitMqPoolHost : IAsyncDisposable
{
    private const int MaxRemembered = 100_000;

    /// <summary>The longest a publish waits for the broker's confirm.</summary>
    private static readonly TimeSpan PublishTimeout = TimeSpan.FromSeconds(30);

    private readonly PythonPool _pool;
    private readonly RabbitMqServeOptions _options;
    private readonly ILogger _logger;
    private readonly IConnection _connection;
    private readonly IChannel _channel;
    private readonly string _controlQueue;
    private readonly ConcurrentDictionary<string, ActiveCall> _active = new(StringComparer.Ordinal);
    private readonly ConcurrentDictionary<string, long> _cancelled = new(StringComparer.Ordinal);
    private readonly CancellationTokenSource _stopping = new();
    private readonly TimeProvider _time = TimeProvider.System;
    private readonly int _maxFrameSize;
    private string? _consumerTag;
    private Task _statusLoop = Task.CompletedTask;
    private int _busy;
    private int _peakBusy;
    private long _served;
    private long _failed;
    private int _capacity;
    private int _stopped;

    private RabbitMqPoolHost(PythonPool pool, RabbitMqServeOptions options, ILogger logger, IConnection connection, IChannel channel, string hostName, string controlQueue)
    {
        _pool = pool;
        _options = options;
        _logger = logger;
        _connection = connection;
        _channel = channel;
        HostName = hostName;
        _controlQueue = controlQueue;
        _maxFrameSize = pool.Options.MaxFrameSize;
        _capacity = Capacity(pool.GetStatus());
    }

    /// <summary>The served pool's name, which is the remote pool's.</summary>
    public string PoolName => _pool.Name;

    /// <summary>This host's name in the remote pool's status.</summary>
    public string HostName { get; }

    /// <summary>The calls and streams this host runs now.</summary>
    public int Busy => Volatile.Read(ref _busy);

    /// <summary>The most calls and streams this host ran at once.</summary>
    public int PeakBusy => Volatile.Read(ref _peakBusy);

    /// <summary>The calls and streams this host has answered, failures included.</summary>
    public long CallsServed => Interlocked.Read(ref _served);

    /// <summary>
    /// Connects to the broker (retrying with backoff until <paramref name="cancellationToken"/> fires, while it cannot
    /// be reached), declares the pool's queues and starts consuming its calls.
    /// </summary>
    /// <exception cref="ArgumentException">
    /// The options are invalid, no broker is named, or the pool has no <see cref="PythonPoolOptions.AllowedModules"/>.
    /// </exception>
    /// <exception cref="InvalidOperationException">The call queue exists with another <see cref="RabbitMqServeOptions.MaxQueueLength"/>.</exception>
    public static async Task<RabbitMqPoolHost> StartAsync(PythonPool pool, RabbitMqServeOptions options, CancellationToken cancellationToken = default)
    {
        ArgumentNullException.ThrowIfNull(pool);
        ArgumentNullException.ThrowIfNull(options);
        options.Validate(pool.Name);
        if (pool.Options.AllowedModules is not { Count: > 0 } allowed)
        {
            throw new ArgumentException(
                $"Serving pool '{pool.Name}' on RabbitMQ requires PythonPoolOptions.AllowedModules: a host runs whatever any publisher on the broker sends, so it must name the modules it serves.",
                nameof(pool));
        }

        var uri = Broker.Resolve(options.Broker, $"Serving pool '{pool.Name}'");
        var logger = (options.LoggerFactory ?? pool.Options.LoggerFactory ?? NullLoggerFactory.Instance).CreateLogger("Lifeguard.RabbitMQ.Host");
        string hostName = options.HostName ?? $"{Environment.MachineName}:{Environment.ProcessId.ToString(CultureInfo.InvariantCulture)}";
        var factory = Broker.CreateFactory(uri, $"lifeguard host {hostName} of {pool.Name}", options.ConfigureConnection);
        var connection = await ConnectAsync(factory, logger, hostName, uri, cancellationToken).ConfigureAwait(false);
        try
        {
            var channel = await connection.CreateChannelAsync(
                new CreateChannelOptions(publisherConfirmationsEnabled: true, publisherConfirmationTrackingEnabled: true), cancellationToken).ConfigureAwait(false);
            await Topology.DeclareAsync(channel, pool.Name, options.MaxQueueLength, cancellationToken).ConfigureAwait(false);

            // The host's own queue: cancels from every caller (through the control exchange), and the credit and
            // closes of the streams it runs (addressed to it). Named by the host, so that recovery declares it again
            // under the same name, which the items it sent carry.
            string control = $"lifeguard.{pool.Name}.host.{Guid.NewGuid():N}";
            await channel.QueueDeclareAsync(control, durable: false, exclusive: true, autoDelete: true, cancellationToken: cancellationToken).ConfigureAwait(false);
            await channel.QueueBindAsync(control, Topology.ControlExchange(pool.Name), "", cancellationToken: cancellationToken).ConfigureAwait(false);

            var host = new RabbitMqPoolHost(pool, options, logger, connection, channel, hostName, control);
            await host.BeginAsync(cancellationToken).ConfigureAwait(false);
            RabbitMqLog.Serving(logger, pool.Name, hostName, Broker.Redact(uri), host._capacity, string.Join(",", allowed.Order(StringComparer.Ordinal)));
            return host;
        }
        catch
        {
            await connection.DisposeAsync().ConfigureAwait(false);
            throw;
        }
    }

    private static async Task<IConnection> ConnectAsync(ConnectionFactory factory, ILogger logger, string hostName, Uri uri, CancellationToken cancellationToken)
    {
        var delay = TimeSpan.FromMilliseconds(500);
        while (true)
        {
            try
            {
                return await factory.CreateConnectionAsync(cancellationToken).ConfigureAwait(false);
            }
            catch (Exception e) when (Broker.IsUnavailable(e) && !cancellationToken.IsCancellationRequested)
            {
                RabbitMqLog.ConnectFailed(logger, hostName, Broker.Redact(uri), e.InnerException?.Message ?? e.Message, delay);
                await Task.Delay(delay, cancellationToken).ConfigureAwait(false);
                delay = TimeSpan.FromTicks(Math.Min(delay.Ticks * 2, TimeSpan.FromSeconds(30).Ticks));
            }
        }
    }

    private async Task BeginAsync(CancellationToken cancellationToken)
    {
        _connection.ConnectionShutdownAsync += (_, e) =>
        {
            if (Volatile.Read(ref _stopped) == 0)
            {
                RabbitMqLog.ConnectionLost(_logger, HostName, e.ReplyText);
            }

            return Task.CompletedTask;
        };
        _connection.RecoverySucceededAsync += (_, _) =>
        {
            RabbitMqLog.Reconnected(_logger, HostName);
            return Task.CompletedTask;
        };

        await _channel.BasicQosAsync(0, (ushort)Math.Clamp(_capacity, 1, ushort.MaxValue), global: false, cancellationToken).ConfigureAwait(false);

        var control = new AsyncEventingBasicConsumer(_channel);
        control.ReceivedAsync += (_, delivery) =>
        {
            OnControl(delivery);
            return Task.CompletedTask;
        };
        await _channel.BasicConsumeAsync(_controlQueue, autoAck: true, control, cancellationToken).ConfigureAwait(false);

        var calls = new AsyncEventingBasicConsumer(_channel);
        calls.ReceivedAsync += (_, delivery) =>
        {
            // The body's memory is the client's only during this handler: the call keeps a copy, and runs on its own.
            var message = new Delivery(delivery.DeliveryTag, delivery.Redelivered, delivery.BasicProperties, delivery.Body.ToArray(), _time.GetTimestamp());
            _ = Task.Run(() => HandleAsync(message), CancellationToken.None);
            return Task.CompletedTask;
        };
        _consumerTag = await _channel.BasicConsumeAsync(Topology.CallQueue(_pool.Name), autoAck: false, calls, cancellationToken).ConfigureAwait(false);
        _statusLoop = StatusLoopAsync(_stopping.Token);
    }

    /// <summary>This host as its callers see it.</summary>
    public RemoteHostStatus GetStatus()
        => new(HostName, Environment.ProcessId, _capacity, Busy, CallsServed, Interlocked.Read(ref _failed), PeakBusy, _time.GetUtcNow(), Volatile.Read(ref _stopped) == 0);

    private static int Capacity(PoolStatus status) => status.Size + status.MaxOverflow;

    private async Task HandleAsync(Delivery delivery)
    {
        var properties = delivery.Properties;
        string? callId = properties.CorrelationId;
        string? replyTo = properties.ReplyTo;
        if (string.IsNullOrEmpty(callId) || string.IsNullOrEmpty(replyTo))
        {
            RabbitMqLog.Dropped(_logger, HostName, callId ?? "(none)", "it names no correlation id or no reply-to address, so it can never be answered.");
            await AckAsync(delivery).ConfigureAwait(false);
            return;
        }

        var call = new ActiveCall(callId, replyTo, properties.Type == Wire.StreamType);
        if (!_active.TryAdd(callId, call))
        {
            // The same call delivered twice at once (a publish the broker took twice): one runs.
            RabbitMqLog.Dropped(_logger, HostName, callId, "it is running on this host already.");
            await AckAsync(delivery).ConfigureAwait(false);
            return;
        }

        int busy = Interlocked.Increment(ref _busy);
        for (int peak = Volatile.Read(ref _peakBusy); busy > peak; peak = Volatile.Read(ref _peakBusy))
        {
            if (Interlocked.CompareExchange(ref _peakBusy, busy, peak) == peak)
            {
                break;
            }
        }

        try
        {
            await RunAsync(delivery, call).ConfigureAwait(false);
        }
        finally
        {
            _active.TryRemove(callId, out _);
            Release(call);
            call.Dispose();
        }
    }

    private async Task RunAsync(Delivery delivery, ActiveCall call)
    {
        var properties = delivery.Properties;
        int deliveries = (int)Math.Min(int.MaxValue, (Wire.ReadLong(properties, Wire.DeliveryCountHeader) ?? (delivery.Redelivered ? 1 : 0)) + 1);
        bool idempotent = !call.IsStream && Wire.ReadBool(properties, Wire.IdempotentHeader);
        if (_cancelled.TryRemove(call.Id, out _))
        {
            RabbitMqLog.Cancelled(_logger, HostName, call.Id);
            await AckAsync(delivery, call).ConfigureAwait(false);
            return;
        }

        Frame frame;
        string module, function;
        EncodedArguments args;
        try
        {
            frame = FrameReader.ParseWhole(delivery.Body, _maxFrameSize);
            if (frame.Kind != FrameKind.Call)
            {
                throw new PythonProtocolException($"The message is a {frame.Kind} frame, not a call.");
            }

            (module, function, args) = EncodedArguments.Read(frame);
        }
        catch (PythonProtocolException e)
        {
            await ReplyAndAckAsync(delivery, call, Wire.Error(new PythonProtocolException($"Host '{HostName}' of pool '{_pool.Name}' could not read the call: {e.Message}", _pool.Name), HostName)).ConfigureAwait(false);
            return;
        }

        string name = module + "." + function;
        if (deliveries >= _options.PoisonThreshold)
        {
            await QuarantineAsync(delivery, call, name, deliveries).ConfigureAwait(false);
            return;
        }

        if (deliveries > 1 && !idempotent)
        {
            RabbitMqLog.HostLost(_logger, HostName, call.Id, name);
            var lost = new RemoteHostLostException(
                $"The host running {name} for pool '{_pool.Name}' was lost before it replied; the call is not idempotent, so it was not run again (delivery {deliveries}). It may or may not have run.",
                _pool.Name,
                name);
            await ReplyAndAckAsync(delivery, call, Wire.Error(lost, HostName)).ConfigureAwait(false);
            return;
        }

        // The time left: what the caller gave it at its publish, less what it waited here. Its time in the queue is
        // the broker's to enforce (the message's expiration), so no clock of another machine is ever read.
        var callTimeout = Wire.ReadLong(properties, Wire.CallTimeoutHeader) is { } ms && ms >= 0 ? TimeSpan.FromMilliseconds(Math.Max(1, ms)) : Timeout.InfiniteTimeSpan;
        var budget = Timeout.InfiniteTimeSpan;
        if (Wire.ReadLong(properties, Wire.RemainingHeader) is { } remaining)
        {
            budget = TimeSpan.FromMilliseconds(remaining) - _time.GetElapsedTime(delivery.Received);
            if (budget <= TimeSpan.Zero)
            {
                RabbitMqLog.Dropped(_logger, HostName, call.Id, $"{name} reached its deadline before it could start; it was not run.");
                await ReplyAndAckAsync(delivery, call, Wire.Error(new ExpiredException($"{name} reached its deadline before a host of pool '{_pool.Name}' could start it; it was not run."), HostName)).ConfigureAwait(false);
                return;
            }

            if (callTimeout == Timeout.InfiniteTimeSpan || budget < callTimeout)
            {
                callTimeout = budget;
            }
        }

        var options = new PythonCallOptions
        {
            CallTimeout = callTimeout,
            MaxRetries = 0,
            CheckoutTimeout = budget,
            IncludeArgumentsInErrors = false,
        };
        if (call.IsStream)
        {
            options.StreamWindow = (int)Math.Clamp(Wire.ReadLong(properties, Wire.StreamWindowHeader) ?? 16, 1, 65536);
            await StreamAsync(delivery, call, module, function, args, options).ConfigureAwait(false);
            return;
        }

        byte[] reply;
        try
        {
            reply = await _pool.CallEncodedAsync(module, function, args, options, call.Cancellation.Token).ConfigureAwait(false);
        }
        catch (OperationCanceledException) when (call.Cancellation.IsCancellationRequested)
        {
            if (call.CancelledByCaller)
            {
                // The caller gave up and said so: it waits for nothing.
                RabbitMqLog.Cancelled(_logger, HostName, call.Id);
                await AckAsync(delivery, call).ConfigureAwait(false);
                return;
            }

            reply = await StoppedUnderAsync(delivery, call, name, idempotent).ConfigureAwait(false);
            if (reply.Length == 0)
            {
                return;
            }
        }
        catch (Exception e)
        {
            Interlocked.Increment(ref _failed);
            reply = Wire.Error(e, HostName);
        }

        await ReplyAndAckAsync(delivery, call, reply).ConfigureAwait(false);
    }

    /// <summary>
    /// A call this host interrupted because it is stopping: an idempotent one goes back to the queue for another host
    /// (nothing is answered, the empty reply); any other is answered <see cref="RemoteHostLostException"/>.
    /// </summary>
    private async Task<byte[]> StoppedUnderAsync(Delivery delivery, ActiveCall call, string name, bool idempotent)
    {
        if (idempotent)
        {
            try
            {
                Release(call);
                await _channel.BasicNackAsync(delivery.Tag, multiple: false, requeue: true, CancellationToken.None).ConfigureAwait(false);
            }
            catch (Exception e) when (Broker.IsUnavailable(e))
            {
                RabbitMqLog.ReplyFailed(_logger, HostName, call.Id, e.Message);
            }

            return [];
        }

        return Wire.Error(
            new RemoteHostLostException(
                $"Host '{HostName}' of pool '{_pool.Name}' stopped while it ran {name}, and interrupted it past its drain timeout; the call is not idempotent, so it was not run again.",
                _pool.Name,
                name),
            HostName);
    }

    private async Task StreamAsync(Delivery delivery, ActiveCall call, string module, string function, EncodedArguments args, PythonCallOptions options)
    {
        int window = options.StreamWindow!.Value;
        string name = module + "." + function;
        call.Credit = new SemaphoreSlim(window, int.MaxValue);
        long items = 0;
        byte[]? end = null;
        try
        {
            await foreach (var item in _pool.StreamEncodedAsync(module, function, args, options, call.Cancellation.Token).ConfigureAwait(false))
            {
                // At most the window's worth of items beyond the caller's credit. A caller that neither takes an item
                // nor closes within the call timeout is taken to be gone: the generator is closed, and the stream ends
                // with a timeout, never with a short end that would look complete.
                if (!await call.Credit.WaitAsync(options.CallTimeout!.Value, call.Cancellation.Token).ConfigureAwait(false))
                {
                    end = Wire.Error(
                        new PythonCallTimeoutException(
                            $"The caller of the stream {name} took no next item within {options.CallTimeout.Value} (CallTimeout); host '{HostName}' of pool '{_pool.Name}' closed it after {items} items.",
                            _pool.Name,
                            name,
                            options.CallTimeout.Value,
                            workerKilled: false),
                        HostName);
                    break;
                }

                if (call.Closed)
                {
                    break;
                }

                if (!await PublishAsync(call, item, replyToHost: true).ConfigureAwait(false))
                {
                    // An item the broker did not take: what follows could only be a stream with a gap.
                    end = Wire.Error(
                        new RemoteHostLostException(
                            $"Host '{HostName}' of pool '{_pool.Name}' could not send item {items + 1} of the stream {name} (the broker did not take it); it closed the stream.",
                            _pool.Name,
                            name),
                        HostName);
                    break;
                }

                items++;
            }

            if (end is null && !call.Closed)
            {
                end = FrameReader.Compose(FrameKind.StreamEnd, JsonSerializer.SerializeToUtf8Bytes(new StreamEnd(items), RabbitMqJsonContext.Default.StreamEnd), default);
            }
        }
        catch (OperationCanceledException) when (call.Cancellation.IsCancellationRequested)
        {
            end = call.CancelledByCaller ? null : Wire.Error(new RemoteHostLostException($"Host '{HostName}' of pool '{_pool.Name}' stopped under the stream {name}.", _pool.Name, name), HostName);
        }
        catch (Exception e)
        {
            Interlocked.Increment(ref _failed);
            end = Wire.Error(e, HostName);
        }

        if (end is not null)
        {
            await ReplyAndAckAsync(delivery, call, end).ConfigureAwait(false);
        }
        else
        {
            Interlocked.Increment(ref _served);
            await AckAsync(delivery, call).ConfigureAwait(false);
        }
    }

    /// <summary>Moves a poison input to the dead-letter queue (confirmed), answers its caller, then acknowledges it.</summary>
    private async Task QuarantineAsync(Delivery delivery, ActiveCall call, string name, int deliveries)
    {
        string queue = Topology.DeadLetterQueue(_pool.Name);
        var properties = new BasicProperties(delivery.Properties)
        {
            Headers = new Dictionary<string, object?>(delivery.Properties.Headers ?? new Dictionary<string, object?>(StringComparer.Ordinal), StringComparer.Ordinal)
            {
                ["x-lifeguard-deliveries"] = deliveries,
                ["x-lifeguard-dead-reason"] = "poison",
                ["x-lifeguard-host"] = HostName,
            },
            Expiration = null,
            Persistent = true,
        };
        try
        {
            using var bound = new CancellationTokenSource(PublishTimeout);
            await _channel.BasicPublishAsync("", queue, mandatory: true, properties, delivery.Body, bound.Token).ConfigureAwait(false);
        }
        catch (Exception e) when (Broker.IsUnavailable(e) || e is PublishException or OperationCanceledException)
        {
            // Not moved: the message stays unacknowledged, and comes back to a host once this channel is gone.
            RabbitMqLog.ReplyFailed(_logger, HostName, call.Id, $"could not move it to {queue}: {e.Message}");
            return;
        }

        RabbitMqLog.Poisoned(_logger, HostName, call.Id, queue, deliveries);
        var poison = new PythonPoisonInputException(
            $"The message of {name} was delivered {deliveries} times (PoisonThreshold {_options.PoisonThreshold}), each earlier delivery ending with its host lost: it was moved to the dead-letter queue {queue} and not run again.",
            _pool.Name,
            name,
            deliveries,
            queue);
        await ReplyAndAckAsync(delivery, call, Wire.Error(poison, HostName)).ConfigureAwait(false);
    }

    private async Task ReplyAndAckAsync(Delivery delivery, ActiveCall call, byte[] reply)
    {
        if (await PublishAsync(call, reply, replyToHost: false).ConfigureAwait(false))
        {
            Interlocked.Increment(ref _served);
        }

        await AckAsync(delivery, call).ConfigureAwait(false);
    }

    /// <summary>Publishes a reply (confirmed); false when the caller is gone or the broker is.</summary>
    private async Task<bool> PublishAsync(ActiveCall call, byte[] body, bool replyToHost)
    {
        var properties = new BasicProperties { CorrelationId = call.Id, ReplyTo = replyToHost ? _controlQueue : null };
        try
        {
            using var bound = new CancellationTokenSource(PublishTimeout);
            // Not mandatory: RabbitMQ returns a mandatory publish to a direct reply-to address even when it delivers it.
            await _channel.BasicPublishAsync("", call.ReplyTo, mandatory: false, properties, body, bound.Token).ConfigureAwait(false);
            return true;
        }
        catch (Exception e) when (Broker.IsUnavailable(e) || e is PublishException or OperationCanceledException)
        {
            RabbitMqLog.ReplyFailed(_logger, HostName, call.Id, e.Message);
            return false;
        }
    }

    /// <summary>
    /// Counts <paramref name="call"/> out of <see cref="Busy"/>, once. This comes before its ack or nack: the broker
    /// delivers the next message as soon as it has the ack, and a count still holding the finished call would read one
    /// over the capacity for a moment.
    /// </summary>
    private void Release(ActiveCall call)
    {
        if (call.TryRelease())
        {
            Interlocked.Decrement(ref _busy);
        }
    }

    private async Task AckAsync(Delivery delivery, ActiveCall? call = null)
    {
        if (call is not null)
        {
            Release(call);
        }

        try
        {
            await _channel.BasicAckAsync(delivery.Tag, multiple: false, CancellationToken.None).ConfigureAwait(false);
        }
        catch (Exception e) when (Broker.IsUnavailable(e))
        {
            // The channel is gone: the broker gives the message to a host again, which sees it redelivered.
            RabbitMqLog.ReplyFailed(_logger, HostName, delivery.Properties.CorrelationId ?? "(none)", $"could not acknowledge it: {e.Message}");
        }
    }

    private void OnControl(BasicDeliverEventArgs delivery)
    {
        string? callId = delivery.BasicProperties.CorrelationId;
        if (string.IsNullOrEmpty(callId))
        {
            return;
        }

        _active.TryGetValue(callId, out var call);
        switch (delivery.BasicProperties.Type)
        {
            case Wire.CancelType when call is not null:
                call.CancelledByCaller = true;
                call.Cancel();
                break;
            case Wire.CancelType:
                // Not here (yet): remembered until its deadline, in case its message reaches this host later.
                Remember(callId, Wire.ReadLong(delivery.BasicProperties, Wire.RemainingHeader));
                break;
            case Wire.CreditType when call?.Credit is { } credit:
                int n = ReadCredit(delivery.Body.Span);
                if (n > 0)
                {
                    credit.Release(Math.Min(n, 65536));
                }

                break;
            case Wire.CloseType when call is not null:
                call.Closed = true;
                call.Credit?.Release();
                break;
        }
    }

    private static int ReadCredit(ReadOnlySpan<byte> body)
    {
        try
        {
            var reader = new Utf8JsonReader(body);
            while (reader.Read())
            {
                if (reader.TokenType == JsonTokenType.PropertyName && reader.ValueTextEquals("n"u8) && reader.Read() && reader.TryGetInt32(out int n))
                {
                    return n;
                }
            }
        }
        catch (JsonException)
        {
        }

        return 0;
    }

    private void Remember(string callId, long? remainingMs)
    {
        long now = _time.GetTimestamp();
        if (_cancelled.Count >= MaxRemembered)
        {
            foreach (var (id, expires) in _cancelled)
            {
                if (expires < now)
                {
                    _cancelled.TryRemove(id, out _);
                }
            }

            if (_cancelled.Count >= MaxRemembered)
            {
                return;
            }
        }

        var keep = remainingMs is { } ms && ms >= 0 ? TimeSpan.FromMilliseconds(ms) : TimeSpan.FromMinutes(10);
        _cancelled[callId] = now + (long)(keep.TotalSeconds * _time.TimestampFrequency);
    }

    private async Task StatusLoopAsync(CancellationToken cancellationToken)
    {
        using var timer = new PeriodicTimer(_options.StatusInterval, _time);
        try
        {
            do
            {
                await PublishStatusAsync().ConfigureAwait(false);
            }
            while (await timer.WaitForNextTickAsync(cancellationToken).ConfigureAwait(false));
        }
        catch (OperationCanceledException)
        {
        }
    }

    private async Task PublishStatusAsync()
    {
        int capacity = Capacity(_pool.GetStatus());
        if (capacity != _capacity && capacity > 0)
        {
            // The pool was resized: the prefetch follows, so the host still takes exactly what it can start.
            _capacity = capacity;
            try
            {
                await _channel.BasicQosAsync(0, (ushort)Math.Clamp(capacity, 1, ushort.MaxValue), global: false, CancellationToken.None).ConfigureAwait(false);
            }
            catch (Exception e) when (Broker.IsUnavailable(e))
            {
            }
        }

        var status = GetStatus();
        var body = JsonSerializer.SerializeToUtf8Bytes(status, RabbitMqJsonContext.Default.RemoteHostStatus);
        try
        {
            using var bound = new CancellationTokenSource(PublishTimeout);
            await _channel.BasicPublishAsync(Topology.StatusExchange(_pool.Name), "", mandatory: false, new BasicProperties { Type = Wire.StatusType }, body, bound.Token).ConfigureAwait(false);
        }
        catch (Exception e) when (Broker.IsUnavailable(e) || e is PublishException or OperationCanceledException)
        {
            // Told again at the next tick.
        }
    }

    /// <summary>
    /// Stops taking calls, lets the running ones finish for up to <see cref="RabbitMqServeOptions.DrainTimeout"/>, then
    /// interrupts the rest (an idempotent one goes back to the queue; another is answered
    /// <see cref="RemoteHostLostException"/>), tells callers it left and closes the connection. The pool itself is
    /// not stopped: it is its owner's.
    /// </summary>
    public async Task StopAsync(CancellationToken cancellationToken = default)
    {
        if (Interlocked.Exchange(ref _stopped, 1) != 0)
        {
            return;
        }

        try
        {
            if (_consumerTag is { } tag && _channel.IsOpen)
            {
                await _channel.BasicCancelAsync(tag, cancellationToken: cancellationToken).ConfigureAwait(false);
            }
        }
        catch (Exception e) when (Broker.IsUnavailable(e))
        {
        }

        using (var drain = CancellationTokenSource.CreateLinkedTokenSource(cancellationToken))
        {
            drain.CancelAfter(_options.DrainTimeout);
            try
            {
                while (!_active.IsEmpty)
                {
                    await Task.WhenAny(_active.Values.Select(c => c.Done.Task)).WaitAsync(drain.Token).ConfigureAwait(false);
                }
            }
            catch (OperationCanceledException)
            {
                foreach (var call in _active.Values)
                {
                    call.Cancel();
                }

                using var bound = new CancellationTokenSource(TimeSpan.FromSeconds(30));
                try
                {
                    while (!_active.IsEmpty)
                    {
                        await Task.WhenAny(_active.Values.Select(c => c.Done.Task)).WaitAsync(bound.Token).ConfigureAwait(false);
                    }
                }
                catch (OperationCanceledException)
                {
                }
            }
        }

        await _stopping.CancelAsync().ConfigureAwait(false);
        await _statusLoop.ConfigureAwait(false);
        await PublishStatusAsync().ConfigureAwait(false);
        try
        {
            await _channel.CloseAsync(cancellationToken).ConfigureAwait(false);
            await _connection.CloseAsync(cancellationToken).ConfigureAwait(false);
        }
        catch (Exception e) when (Broker.IsUnavailable(e) || e is OperationCanceledException)
        {
        }

        RabbitMqLog.Stopped(_logger, HostName, _pool.Name, CallsServed);
    }

    /// <summary>Stops the host (<see cref="StopAsync"/>) and releases the connection.</summary>
    public async ValueTask DisposeAsync()
    {
        await StopAsync(CancellationToken.None).ConfigureAwait(false);
        await _channel.DisposeAsync().ConfigureAwait(false);
        await _connection.DisposeAsync().ConfigureAwait(false);
        _stopping.Dispose();
    }

    private sealed record Delivery(ulong Tag, bool Redelivered, IReadOnlyBasicProperties Properties, byte[] Body, long Received);

    /// <summary>A call or stream this host runs: its caller's address, its cancellation, a stream's credit.</summary>
    private sealed class ActiveCall(string id, string replyTo, bool isStream) : IDisposable
    {
        public string Id => id;

        public string ReplyTo => replyTo;

        public bool IsStream => isStream;

        public CancellationTokenSource Cancellation { get; } = new();

        public TaskCompletionSource Done { get; } = new(TaskCreationOptions.RunContinuationsAsynchronously);

        public volatile bool CancelledByCaller;

        public volatile bool Closed;

        public SemaphoreSlim? Credit { get; set; }

        private int _released;

        /// <summary>True the first time only: the call leaves the host's busy count once.</summary>
        public bool TryRelease() => Interlocked.Exchange(ref _released, 1) == 0;

        public void Cancel()
        {
            try
            {
                Cancellation.Cancel();
            }
            catch (ObjectDisposedException)
            {
            }
        }

        public void Dispose()
        {
            Done.TrySetResult();
            Cancellation.Dispose();
            Credit?.Dispose();
        }
    }
}

/// <summary>The end of a remote stream: the items sent.</summary>
internal sealed record StreamEnd([property: System.Text.Json.Serialization.JsonPropertyName("items")] long Items);
