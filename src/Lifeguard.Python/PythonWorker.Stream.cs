using System.Diagnostics;
using System.Runtime.CompilerServices;
using System.Text.Json;
using System.Text.Json.Serialization.Metadata;

namespace Lifeguard.Python;

/// <summary>
/// Streams: a generator's items one by one, under credit (docs/protocol.md, "Streams"). A stream is a call in
/// progress for the whole enumeration (the lifecycle at the top of PythonWorker.cs): it begins as a call does and ends
/// when the enumeration is disposed, after the generator finished or was closed.
/// </summary>
public sealed partial class PythonWorker
{
    /// <summary>Whether the worker's hello announced the <c>streams</c> feature.</summary>
    private bool Streams { get; set; }

    /// <summary>
    /// Calls a generator function (or an async generator, or a function returning an iterator or a list) in this
    /// process and yields its items one by one as they come, each deserialised as <typeparamref name="T"/>. The
    /// worker runs at most <see cref="PythonCallOptions.StreamWindow"/> items ahead of the enumeration.
    /// </summary>
    /// <remarks>
    /// <see cref="PythonCallOptions.CallTimeout"/> bounds the wait for each next item; the token bounds the whole
    /// stream. Disposing the enumeration early (<c>break</c>) closes the generator, so its <c>finally</c> blocks run;
    /// one that does not finish closing within <see cref="PythonPoolOptions.CancelGracePeriod"/> is interrupted, then
    /// killed. Nothing runs until the enumeration starts.
    /// </remarks>
    /// <exception cref="PythonException">The generator raised, after the items it yielded before.</exception>
    /// <exception cref="PythonCallTimeoutException">The wait for one item ran past the call timeout.</exception>
    /// <exception cref="PythonWorkerCrashedException">The process died during the stream.</exception>
    /// <exception cref="PythonProtocolException">The process broke the protocol and was killed.</exception>
    /// <exception cref="PythonSerializationException">The arguments, or an item, could not cross the wire.</exception>
    /// <exception cref="NotSupportedException">The worker's runtime does not serve streams.</exception>
    /// <exception cref="ArgumentException"><paramref name="options"/> holds an invalid value, or a pool-call field.</exception>
    public IAsyncEnumerable<T?> StreamAsync<T>(
        string module,
        string function,
        IReadOnlyList<object?>? args = null,
        IReadOnlyDictionary<string, object?>? kwargs = null,
        PythonCallOptions? options = null,
        CancellationToken cancellationToken = default)
        => StreamAsync(module, function, TypeInfo<T>(), args, kwargs, options, cancellationToken);

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
        ArgumentException.ThrowIfNullOrEmpty(module);
        ArgumentException.ThrowIfNullOrEmpty(function);
        options = options?.Copy();
        options?.ValidateForWorker(nameof(options));
        return PoolStreamAsync(module, function, itemType, args, kwargs, options, cancellationToken);
    }

    /// <summary>As the typed stream overloads, yielding each item as a <see cref="JsonElement"/> (bytes appear as base64 strings).</summary>
    public IAsyncEnumerable<JsonElement> StreamAsync(
        string module,
        string function,
        IReadOnlyList<object?>? args = null,
        IReadOnlyDictionary<string, object?>? kwargs = null,
        PythonCallOptions? options = null,
        CancellationToken cancellationToken = default)
    {
        ArgumentException.ThrowIfNullOrEmpty(module);
        ArgumentException.ThrowIfNullOrEmpty(function);
        options = options?.Copy();
        options?.ValidateForWorker(nameof(options));
        return PoolStreamAsync(module, function, args, kwargs, options, cancellationToken);
    }

    /// <summary>A typed stream for the pool, whose options it has checked already.</summary>
    internal IAsyncEnumerable<T?> PoolStreamAsync<T>(
        string module,
        string function,
        JsonTypeInfo<T> itemType,
        IReadOnlyList<object?>? args,
        IReadOnlyDictionary<string, object?>? kwargs,
        PythonCallOptions? options,
        CancellationToken cancellationToken)
        => EnumerateAsync(
            () => new StreamCall<T?, JsonTypeInfo<T>>(
                this, module, function, ResolveStream(options), itemType, static (frame, typeInfo) => JsonSerializer.Deserialize(frame.Json.Span, typeInfo)),
            args,
            kwargs,
            static stream => stream.Current,
            cancellationToken);

    /// <summary>An untyped stream for the pool, whose options it has checked already.</summary>
    internal IAsyncEnumerable<JsonElement> PoolStreamAsync(
        string module,
        string function,
        IReadOnlyList<object?>? args,
        IReadOnlyDictionary<string, object?>? kwargs,
        PythonCallOptions? options,
        CancellationToken cancellationToken)
        => EnumerateAsync(
            () => new StreamCall<JsonElement, PythonCallCodec>(this, module, function, ResolveStream(options), _codec, ReadUntyped),
            args,
            kwargs,
            static stream => stream.Current,
            cancellationToken);

    /// <summary>A remote caller's stream, its arguments encoded already: each item frame comes back whole, its JSON checked.</summary>
    internal IAsyncEnumerable<byte[]> PoolStreamEncodedAsync(
        string module,
        string function,
        EncodedArguments args,
        PythonCallOptions? options,
        CancellationToken cancellationToken)
        => EnumerateAsync(
            () => new StreamCall<byte[], FrameKind>(this, module, function, ResolveStream(options), FrameKind.Item, ComposeChecked),
            args,
            null,
            static stream => stream.Current,
            cancellationToken);

    private static JsonElement ReadUntyped(Frame frame, PythonCallCodec codec) => codec.ReadUntyped(frame);

    /// <summary>One stream per enumeration: it starts with the enumeration and ends when the enumeration is disposed.</summary>
    private static async IAsyncEnumerable<TOut> EnumerateAsync<T, TState, TOut>(
        Func<StreamCall<T, TState>> begin,
        IReadOnlyList<object?>? args,
        IReadOnlyDictionary<string, object?>? kwargs,
        Func<StreamCall<T, TState>, TOut> current,
        [EnumeratorCancellation] CancellationToken cancellationToken)
    {
        var stream = begin();
        await using (stream.ConfigureAwait(false))
        {
            await stream.StartAsync(args, kwargs, cancellationToken).ConfigureAwait(false);
            while (await stream.MoveNextAsync(cancellationToken).ConfigureAwait(false))
            {
                yield return current(stream);
            }
        }
    }

    private StreamSettings ResolveStream(PythonCallOptions? options)
        => new(Resolve(options), options?.StreamWindow ?? _settings.StreamWindow);

    /// <summary>The host's side of one stream: the call frame, credit, the items, and the close.</summary>
    private sealed class StreamCall<T, TState>(
        PythonWorker worker, string module, string function, StreamSettings settings, TState state, Func<Frame, TState, T> readItem)
        : IAsyncDisposable
    {
        private readonly string _name = module + "." + function;
        private readonly int _creditEvery = Math.Max(1, settings.Window / 2);
        private IReadOnlyList<object?>? _args;
        private ulong _id;
        private bool _begun;
        /// <summary>Whether the worker is done with this stream (or never got it): nothing to close. False from the call's send on.</summary>
        private bool _finished = true;
        private long _received;
        private long _credited;
        private Activity? _activity;
        private Exception? _failure;

        public T Current { get; private set; } = default!;

        public async Task StartAsync(IReadOnlyList<object?>? args, IReadOnlyDictionary<string, object?>? kwargs, CancellationToken cancellationToken)
        {
            cancellationToken.ThrowIfCancellationRequested();
            worker.CheckAllowed(module, function, _name);
            if (!worker.Streams)
            {
                throw new NotSupportedException(
                    $"Python worker {worker.ProcessId} of pool '{worker._settings.PoolName}' runs runtime {worker.RuntimeVersion}, which does not serve streams; {_name} was not sent.");
            }

            await worker.BeginCallAsync(_name).ConfigureAwait(false);
            _begun = true;
            _args = settings.Call.IncludeArguments ? args : null;
            if (worker.IsDead)
            {
                throw await worker.NotRunningAsync(_name).ConfigureAwait(false);
            }

            _id = ++worker._lastCallId;
            StartActivity();
            try
            {
                worker._codec.WriteCall(worker._writer, module, function, args, kwargs, spans: worker._trace is not null, settings.Window);
            }
            finally
            {
                if (_activity is not null)
                {
                    Activity.Current = _activity.Parent;
                }
            }

            Volatile.Write(ref worker._current, new CurrentCall(_name, worker._settings.Time.GetTimestamp()));
            _finished = false; // the call goes out: from here on, the worker streams until it ends or is closed
            await ExchangeAsync(static (self, token) => self.SendCallAsync(token), cancellationToken).ConfigureAwait(false);
        }

        private async ValueTask<bool> SendCallAsync(CancellationToken token)
        {
            await worker.SendWholeAsync(FrameKind.Call, _id, token).ConfigureAwait(false);
            return true;
        }

        public async ValueTask<bool> MoveNextAsync(CancellationToken cancellationToken)
        {
            if (_finished)
            {
                return false;
            }

            if (cancellationToken.IsCancellationRequested)
            {
                // The consumer's token fired between items: the generator is closed, as for an early exit.
                await CloseAsync().ConfigureAwait(false);
                throw new OperationCanceledException(cancellationToken);
            }

            // An item already read from the pipe needs no timeout: it is taken without waiting.
            bool waits = _received - _credited >= _creditEvery || !worker._reader.HasFrame;
            return await ExchangeAsync(static (self, token) => self.NextAsync(token), cancellationToken, timed: waits).ConfigureAwait(false);
        }

        /// <summary>Reads the frames up to the next item, the end, or the error.</summary>
        private async ValueTask<bool> NextAsync(CancellationToken token)
        {
            // Every item returned so far has been consumed: the consumer asks for the next one.
            if (_received - _credited >= _creditEvery)
            {
                var credit = worker._writer.Begin();
                credit.WriteStartObject();
                credit.WriteNumber("n"u8, _received - _credited);
                credit.WriteEndObject();
                credit.Flush();
                _credited = _received;
                await worker.SendWholeAsync(FrameKind.Credit, _id, token).ConfigureAwait(false);
            }

            while (true)
            {
                var frame = await worker._reader.ReadAsync(token).ConfigureAwait(false) ?? throw await worker.CrashedAsync(null).ConfigureAwait(false);
                if (frame.Kind == FrameKind.Callback)
                {
                    await worker.AnswerCallbackAsync(frame, token).ConfigureAwait(false);
                    continue;
                }

                if (frame.Id != _id)
                {
                    throw worker.Violation($"expected a frame of stream {_id}, got a {frame.Kind} frame with id {frame.Id}");
                }

                switch (frame.Kind)
                {
                    case FrameKind.Spans:
                        worker.RecordSpans(frame, _name);
                        continue;
                    case FrameKind.Item:
                        // No count to check: an item is read only when the consumer asks for one, after the credit
                        // for the ones taken went out, so the items read never exceed the credit given.
                        _received++;
                        Current = worker.ReadResult(frame, state, readItem, _name);
                        return true;
                    case FrameKind.StreamEnd:
                        _finished = true;
                        CheckEnd(frame);
                        return false;
                    case FrameKind.Error:
                        _finished = true;
                        throw worker.CallError(frame, _name, _args);
                    default:
                        throw worker.Violation($"expected an item or the end of stream {_id}, got a {frame.Kind} frame");
                }
            }
        }

        private void CheckEnd(Frame frame)
        {
            long items;
            try
            {
                using var end = JsonDocument.Parse(frame.Json);
                items = end.RootElement.GetProperty("items"u8).GetInt64();
            }
            catch (Exception e) when (e is JsonException or InvalidOperationException or KeyNotFoundException or FormatException)
            {
                throw worker.Violation($"the end of stream {_id} is not {{\"items\": n}} ({e.Message})", e);
            }

            if (items != _received)
            {
                throw worker.Violation($"stream {_id} ended after {items} items, but {_received} arrived");
            }
        }

        /// <summary>
        /// One step of the stream under the per-item timeout and the caller's token, with the call path's failure
        /// handling: a timeout or the token interrupts the generator; a broken pipe is a crash; a malformed frame a
        /// violation. A step that fails ends the stream (the worker stopped it, or is gone).
        /// </summary>
        private async ValueTask<TResult> ExchangeAsync<TResult>(
            Func<StreamCall<T, TState>, CancellationToken, ValueTask<TResult>> step, CancellationToken cancellationToken, bool timed = true)
        {
            var call = settings.Call;
            var timeout = timed ? worker.ArmCallTimeout(call.Timeout) : null;

            using var linked = timeout is not null && cancellationToken.CanBeCanceled
                ? CancellationTokenSource.CreateLinkedTokenSource(cancellationToken, timeout.Token)
                : null;
            var token = linked?.Token ?? timeout?.Token ?? cancellationToken;
            try
            {
                return await step(this, token).ConfigureAwait(false);
            }
            catch (Exception e) when (worker.StoppedByPool && e is not (OperationCanceledException or PoolStoppedException))
            {
                // The pool stopped this worker under the stream (it is stopping, and the stream outlasted
                // DrainTimeout): whatever the stream saw of that (an interrupted generator, a closed pipe), it is the
                // pool's stop.
                _finished = true;
                throw Fail(PythonErrors.StoppedUnderCall(worker._settings.PoolName, worker.ProcessId, _name));
            }
            catch (OperationCanceledException) when (token.IsCancellationRequested)
            {
                _finished = true;
                bool killed = await worker.InterruptAsync(_id, _name, cancellationToken.IsCancellationRequested ? "cancelled" : "timed out").ConfigureAwait(false);
                if (cancellationToken.IsCancellationRequested)
                {
                    throw Fail(new OperationCanceledException(cancellationToken));
                }

                throw Fail(PythonErrors.CallTimedOut(worker._settings.PoolName, worker.ProcessId, _name, call.Timeout, sent: true, killed));
            }
            catch (Exception e) when (e is IOException or ObjectDisposedException)
            {
                _finished = true;
                throw Fail(await worker.CrashedAsync(e).ConfigureAwait(false));
            }
            catch (PythonProtocolException e) when (e.PoolName is null)
            {
                _finished = true;
                throw Fail(worker.Violation(e.Message, e));
            }
            catch (Exception e) when (e is PythonException or PythonWorkerCrashedException or PythonProtocolException)
            {
                _finished = true;
                throw Fail(e);
            }
            catch (Exception e)
            {
                throw Fail(e);
            }
            finally
            {
                if (timeout is not null)
                {
                    worker.ReleaseCallTimeout(timeout);
                }
            }
        }

        private Exception Fail(Exception e)
        {
            _failure ??= e;
            return e;
        }

        /// <summary>
        /// Closes the generator of a stream that has not ended (docs/protocol.md, "Streams"): the close frame, then the
        /// frames up to the stream's end, items dropped; a generator that does not end within the grace period is
        /// interrupted, then killed. The worker is kept whenever it ends in time.
        /// </summary>
        private async Task CloseAsync()
        {
            if (_finished || !_begun)
            {
                return;
            }

            _finished = true;
            if (worker.IsDead)
            {
                return;
            }

            using var grace = new CancellationTokenSource(worker._settings.CancelGracePeriod, worker._settings.Time);
            try
            {
                var close = worker._writer.Begin();
                close.WriteStartObject();
                close.WriteEndObject();
                close.Flush();
                await worker.SendWholeAsync(FrameKind.Close, _id, grace.Token).ConfigureAwait(false);
                while (true)
                {
                    var frame = await worker._reader.ReadAsync(grace.Token).ConfigureAwait(false);
                    if (frame is null)
                    {
                        await worker.WaitForExitAsync().ConfigureAwait(false);
                        return;
                    }

                    if (frame.Value.Kind == FrameKind.Callback)
                    {
                        // A finally block may call the host: it is answered, with the grace period as its token.
                        await worker.AnswerCallbackAsync(frame.Value, grace.Token).ConfigureAwait(false);
                        continue;
                    }

                    if (frame.Value.Id != _id)
                    {
                        _ = worker.Violation($"expected a frame of closed stream {_id}, got a {frame.Value.Kind} frame with id {frame.Value.Id}");
                        return;
                    }

                    switch (frame.Value.Kind)
                    {
                        case FrameKind.Spans:
                            worker.RecordSpans(frame.Value, _name);
                            continue;
                        case FrameKind.Item when ++_received <= _credited + settings.Window:
                            continue; // sent before the worker saw the close
                        case FrameKind.StreamEnd:
                            return;
                        case FrameKind.Error:
                            // The generator raised as it closed (a finally block), or just before: nobody consumes the
                            // stream any more, so it is logged, and the worker, which answered, is kept.
                            var error = PythonCallCodec.ReadError(frame.Value);
                            PythonLog.StreamCloseFailed(worker._logger, worker.ProcessId, _name, error.Type, error.Message);
                            return;
                        default:
                            _ = worker.Violation($"expected the end of closed stream {_id}, got a {frame.Value.Kind} frame");
                            return;
                    }
                }
            }
            catch (OperationCanceledException) when (grace.IsCancellationRequested)
            {
                _ = await worker.InterruptAsync(_id, _name, "closed, and did not finish closing within the grace period").ConfigureAwait(false);
            }
            catch (Exception e) when (e is IOException or ObjectDisposedException)
            {
                await worker.WaitForExitAsync().ConfigureAwait(false);
            }
            catch (PythonProtocolException e)
            {
                _ = worker.Violation(e.Message, e);
            }
        }

        private void StartActivity()
        {
            if (!PythonTracing.Source.HasListeners() || PythonTracing.Source.StartActivity(_name) is not { } activity)
            {
                return;
            }

            _activity = activity;
            activity.SetTag(LifeguardTracing.PoolNameTag, worker._settings.PoolName);
            activity.SetTag(PythonTracing.ProcessPidTag, worker.ProcessId);
            activity.SetTag(PythonTracing.ModuleTag, module);
            activity.SetTag(PythonTracing.FunctionTag, function);
            activity.SetTag(PythonTracing.StreamItemsTag, 0L);
            worker._trace = activity.IsAllDataRequested && worker.CollectsSpans ? new CallTrace(activity) : null;
        }

        public async ValueTask DisposeAsync()
        {
            if (!_begun)
            {
                return;
            }

            try
            {
                await CloseAsync().ConfigureAwait(false);
            }
            finally
            {
                if (_activity is { } activity)
                {
                    activity.SetTag(PythonTracing.StreamItemsTag, _received);
                    if (_failure is not null)
                    {
                        PythonTracing.SetCallFailure(activity, _failure);
                    }
                    else
                    {
                        activity.SetTag(PythonTracing.OutcomeTag, "ok");
                    }

                    worker._trace?.Report();
                    activity.Dispose();
                }

                worker._trace = null;
                Volatile.Write(ref worker._current, null);
                worker.EndCall();
            }
        }
    }
}

/// <summary>A stream's settings: the call's timeout and error text, and its window.</summary>
internal readonly record struct StreamSettings(CallSettings Call, int Window);
