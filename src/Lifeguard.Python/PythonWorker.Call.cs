using System.Text.Json;
using System.Text.Json.Serialization.Metadata;

namespace Lifeguard.Python;

/// <summary>Calls: send, wait for the reply while answering callbacks, interrupt on cancellation, detect crashes.</summary>
public sealed partial class PythonWorker
{
    /// <summary>
    /// Calls <c>module.function(*args, **kwargs)</c> in this process and deserialises the result as
    /// <typeparamref name="T"/>.
    /// </summary>
    /// <param name="module">The module to import (once per process) and call into.</param>
    /// <param name="function">The function's name in the module; an <c>async def</c> is awaited.</param>
    /// <param name="args">The positional arguments, as one list; <see langword="null"/> for none.</param>
    /// <param name="kwargs">The keyword arguments; <see langword="null"/> for none.</param>
    /// <param name="options">
    /// This call's own <see cref="PythonCallOptions.CallTimeout"/> and <see cref="PythonCallOptions.IncludeArgumentsInErrors"/>;
    /// <see langword="null"/> or unset fields for the pool's. A leased worker neither checks out nor retries.
    /// </param>
    /// <param name="cancellationToken">Interrupts the call (KeyboardInterrupt inside it).</param>
    /// <exception cref="PythonException">The Python code raised; the worker stays usable.</exception>
    /// <exception cref="PythonCallTimeoutException">The call ran past its call timeout (<see cref="PythonCallOptions.CallTimeout"/>, else <see cref="PythonPoolOptions.CallTimeout"/>).</exception>
    /// <exception cref="PythonWorkerCrashedException">The process died during the call.</exception>
    /// <exception cref="PythonProtocolException">The process broke the protocol and was killed.</exception>
    /// <exception cref="PythonSerializationException">
    /// The arguments or the result could not cross the wire: for a result, a value of the wrong type, or a missing or
    /// null member that <typeparamref name="T"/> cannot leave empty (the message names it and the keys Python sent).
    /// </exception>
    /// <exception cref="ArgumentException">
    /// <paramref name="options"/> holds an invalid value, or sets <see cref="PythonCallOptions.CheckoutTimeout"/>,
    /// <see cref="PythonCallOptions.MaxRetries"/> or <see cref="PythonCallOptions.Idempotent"/>, which apply to pool calls only.
    /// </exception>
    /// <exception cref="OperationCanceledException"><paramref name="cancellationToken"/> fired.</exception>
    public Task<T?> CallAsync<T>(
        string module,
        string function,
        IReadOnlyList<object?>? args = null,
        IReadOnlyDictionary<string, object?>? kwargs = null,
        PythonCallOptions? options = null,
        CancellationToken cancellationToken = default)
        => CallAsync(module, function, TypeInfo<T>(), args, kwargs, options, cancellationToken);

    /// <summary>How the pool's serializer options read a <typeparamref name="T"/>.</summary>
    internal JsonTypeInfo<T> TypeInfo<T>() => (JsonTypeInfo<T>)_settings.Json.GetTypeInfo(typeof(T));

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
        options = options?.Copy();
        options?.ValidateForWorker(nameof(options));
        return PoolCallAsync(module, function, resultType, args, kwargs, options, cancellationToken);
    }

    /// <summary>As the typed overloads, returning the result as a <see cref="JsonElement"/> (bytes appear as base64 strings).</summary>
    public Task<JsonElement> CallAsync(
        string module,
        string function,
        IReadOnlyList<object?>? args = null,
        IReadOnlyDictionary<string, object?>? kwargs = null,
        PythonCallOptions? options = null,
        CancellationToken cancellationToken = default)
    {
        options = options?.Copy();
        options?.ValidateForWorker(nameof(options));
        return PoolCallAsync(module, function, args, kwargs, options, cancellationToken);
    }

    /// <summary>A typed call for the pool, whose options (pool-call fields included) it has checked already.</summary>
    internal Task<T?> PoolCallAsync<T>(
        string module,
        string function,
        JsonTypeInfo<T> resultType,
        IReadOnlyList<object?>? args,
        IReadOnlyDictionary<string, object?>? kwargs,
        PythonCallOptions? options,
        CancellationToken cancellationToken)
    {
        ArgumentNullException.ThrowIfNull(resultType);
        return CallCoreAsync(module, function, args, kwargs, Resolve(options), resultType, static (frame, typeInfo) => JsonSerializer.Deserialize(frame.Json.Span, typeInfo), cancellationToken);
    }

    /// <summary>An untyped call for the pool, whose options it has checked already.</summary>
    internal Task<JsonElement> PoolCallAsync(
        string module,
        string function,
        IReadOnlyList<object?>? args,
        IReadOnlyDictionary<string, object?>? kwargs,
        PythonCallOptions? options,
        CancellationToken cancellationToken)
        => CallCoreAsync(module, function, args, kwargs, Resolve(options), _codec, static (frame, codec) => codec.ReadUntyped(frame), cancellationToken);

    /// <summary>
    /// A remote caller's call, its arguments encoded already, for the pool (whose options it has checked): the result
    /// frame comes back whole, as the remote caller reads it, its JSON checked to be well-formed.
    /// </summary>
    internal Task<byte[]> PoolCallEncodedAsync(string module, string function, EncodedArguments args, PythonCallOptions? options, CancellationToken cancellationToken)
        => CallCoreAsync(module, function, args, null, Resolve(options), FrameKind.Result, ComposeChecked, cancellationToken);

    /// <summary>The frame as one array, for a remote caller, once its JSON is known to be well-formed.</summary>
    private static byte[] ComposeChecked(Frame frame, FrameKind kind)
    {
        var reader = new Utf8JsonReader(frame.Json.Span, new JsonReaderOptions { MaxDepth = 256 });
        if (!reader.Read())
        {
            throw new JsonException("The frame's JSON part is empty.");
        }

        reader.Skip();
        if (reader.Read())
        {
            throw new JsonException("The frame's JSON part holds more than one value.");
        }

        return FrameReader.Compose(kind, frame.Json.Span, frame.Attachments.Span);
    }

    private CallSettings Resolve(PythonCallOptions? options)
        => new(options?.CallTimeout ?? _settings.CallTimeout, options?.IncludeArgumentsInErrors ?? _settings.IncludeArgumentsInErrors);

    /// <summary>
    /// A call, inside a <c>module.function</c> span when the <c>Lifeguard</c> source has a listener (docs/hosting.md,
    /// "Tracing"); without one, the call as it is, with no span work at all.
    /// </summary>
    private Task<T> CallCoreAsync<T, TState>(
        string module,
        string function,
        IReadOnlyList<object?>? args,
        IReadOnlyDictionary<string, object?>? kwargs,
        CallSettings call,
        TState state,
        Func<Frame, TState, T> readResult,
        CancellationToken cancellationToken)
        => PythonTracing.Source.HasListeners()
            ? CallTracedAsync(module, function, args, kwargs, call, state, readResult, cancellationToken)
            : CallOnceAsync(module, function, args, kwargs, call, state, readResult, trace: null, cancellationToken);

    /// <summary>
    /// The call's span is current inside this method only, so the call frame carries it as the traceparent, and the
    /// caller's own activity is current again when it returns. Python collects spans (<c>lifeguard.span</c>) only
    /// when the span records data and the worker said it can.
    /// </summary>
    private async Task<T> CallTracedAsync<T, TState>(
        string module,
        string function,
        IReadOnlyList<object?>? args,
        IReadOnlyDictionary<string, object?>? kwargs,
        CallSettings call,
        TState state,
        Func<Frame, TState, T> readResult,
        CancellationToken cancellationToken)
    {
        using var activity = PythonTracing.Source.StartActivity(module + "." + function);
        if (activity is null)
        {
            return await CallOnceAsync(module, function, args, kwargs, call, state, readResult, trace: null, cancellationToken).ConfigureAwait(false);
        }

        activity.SetTag(LifeguardTracing.PoolNameTag, _settings.PoolName);
        activity.SetTag(PythonTracing.ProcessPidTag, ProcessId);
        activity.SetTag(PythonTracing.ModuleTag, module);
        activity.SetTag(PythonTracing.FunctionTag, function);
        var trace = activity.IsAllDataRequested && CollectsSpans ? new CallTrace(activity) : null;
        try
        {
            var result = await CallOnceAsync(module, function, args, kwargs, call, state, readResult, trace, cancellationToken).ConfigureAwait(false);
            activity.SetTag(PythonTracing.OutcomeTag, "ok");
            return result;
        }
        catch (Exception e)
        {
            PythonTracing.SetCallFailure(activity, e);
            throw;
        }
        finally
        {
            trace?.Report();
        }
    }

    private async Task<T> CallOnceAsync<T, TState>(
        string module,
        string function,
        IReadOnlyList<object?>? args,
        IReadOnlyDictionary<string, object?>? kwargs,
        CallSettings call,
        TState state,
        Func<Frame, TState, T> readResult,
        CallTrace? trace,
        CancellationToken cancellationToken)
    {
        ArgumentException.ThrowIfNullOrEmpty(module);
        ArgumentException.ThrowIfNullOrEmpty(function);
        cancellationToken.ThrowIfCancellationRequested();
        string name = module + "." + function;
        CheckAllowed(module, function, name);
        await BeginCallAsync(name).ConfigureAwait(false);
        try
        {
            if (IsDead)
            {
                throw await NotRunningAsync(name).ConfigureAwait(false);
            }

            ulong id = ++_lastCallId;
            _trace = trace;
            _codec.WriteCall(_writer, module, function, args, kwargs, spans: trace is not null, shared: _arena);
            Volatile.Write(ref _current, new CurrentCall(name, _settings.Time.GetTimestamp()));
            // One timeout source per worker, re-armed per call and reset after it (a new timer per call measured
            // ~0.3 µs and 350 B); a linked source only when the caller's token can fire at all.
            var timeout = ArmCallTimeout(call.Timeout);

            using var linked = timeout is not null && cancellationToken.CanBeCanceled
                ? CancellationTokenSource.CreateLinkedTokenSource(cancellationToken, timeout.Token)
                : null;
            var token = linked?.Token ?? timeout?.Token ?? cancellationToken;
            bool sent = false;
            try
            {
                // Cancelled while the arguments were written (a slow getter, say): nothing was sent, so the worker
                // needs no interrupt and stays as it was.
                token.ThrowIfCancellationRequested();
                sent = true;
                bool namesSegment = _writer.Preamble is not null;
                await SendWholeAsync(FrameKind.Call, id, token).ConfigureAwait(false);
                if (namesSegment)
                {
                    _arena!.MarkSent();
                }

                while (true)
                {
                    var frame = await _reader.ReadAsync(token).ConfigureAwait(false) ?? throw await CrashedAsync(null).ConfigureAwait(false);
                    if (frame.Kind == FrameKind.Callback)
                    {
                        await AnswerCallbackAsync(frame, token).ConfigureAwait(false);
                        continue;
                    }

                    if (frame.Kind is FrameKind.SegmentRequest or FrameKind.SegmentRetire && frame.Id == id && _arena is not null)
                    {
                        await OnSegmentFrameAsync(frame).ConfigureAwait(false);
                        continue;
                    }

                    if (frame.Kind == FrameKind.Spans && frame.Id == id)
                    {
                        RecordSpans(frame, name);
                        continue;
                    }

                    if (frame.Id != id || frame.Kind is not (FrameKind.Result or FrameKind.Error))
                    {
                        throw Violation($"expected the reply to call {id}, got a {frame.Kind} frame with id {frame.Id}");
                    }

                    if (frame.Kind == FrameKind.Error)
                    {
                        throw CallError(frame, name, call.IncludeArguments ? args : null);
                    }

                    return ReadResult(frame, state, readResult, name);
                }
            }
            catch (OperationCanceledException) when (token.IsCancellationRequested)
            {
                bool killed = sent && await InterruptAsync(id, name, cancellationToken.IsCancellationRequested ? "cancelled" : "timed out").ConfigureAwait(false);
                if (cancellationToken.IsCancellationRequested)
                {
                    throw new OperationCanceledException(cancellationToken);
                }

                throw PythonErrors.CallTimedOut(_settings.PoolName, ProcessId, name, call.Timeout, sent, killed);
            }
            catch (Exception e) when (e is IOException or ObjectDisposedException)
            {
                // A broken pipe, or one closed because the pool stopped this worker after it died mid-call.
                throw await CrashedAsync(e).ConfigureAwait(false);
            }
            catch (PythonProtocolException e) when (e.PoolName is null)
            {
                // The reader's or the JSON mapping's own finding; a Violation above was told and thrown as it is.
                throw Violation(e.Message, e);
            }
            catch (FrameTooLargeException)
            {
                throw PythonErrors.ArgumentsTooLarge(_settings.PoolName, name, _writer.MaxFrameSize);
            }
            finally
            {
                if (timeout is not null)
                {
                    ReleaseCallTimeout(timeout);
                }
            }
        }
        catch (Exception e) when (StoppedByPool && e is not (OperationCanceledException or PoolStoppedException))
        {
            // The pool stopped this worker under the call (it is stopping, and the call outlasted DrainTimeout):
            // whatever the call saw of that (an interrupted function, a closed pipe), it is the pool's stop.
            throw PythonErrors.StoppedUnderCall(_settings.PoolName, ProcessId, name);
        }
        finally
        {
            _trace = null;
            _arena?.EndCall();
            Volatile.Write(ref _current, null);
            EndCall();
        }
    }

    /// <summary>
    /// A worker's request for room for its reply's shared bytes (answered at once with slot 1's segment), or its word
    /// that Python code kept a view of slot 0 (dropped when the call ends). Not cancellable: the answer is a few
    /// bytes to a worker that waits for them.
    /// </summary>
    /// <exception cref="PythonProtocolException">Not such a frame (no pool named: the call loop adds it).</exception>
    private async ValueTask OnSegmentFrameAsync(Frame frame)
    {
        long value;
        try
        {
            using var document = JsonDocument.Parse(frame.Json);
            value = document.RootElement.GetProperty(frame.Kind == FrameKind.SegmentRequest ? "size" : "slot").GetInt64();
        }
        catch (Exception e) when (e is JsonException or InvalidOperationException or KeyNotFoundException or FormatException)
        {
            throw new PythonProtocolException(
                $"The worker sent a {frame.Kind} frame that is not {(frame.Kind == FrameKind.SegmentRequest ? "{\"size\": n}" : "{\"slot\": 0}")} ({e.Message}).", null, e);
        }

        if (frame.Kind == FrameKind.SegmentRetire)
        {
            _arena!.Retire(value is >= int.MinValue and <= int.MaxValue ? (int)value : -1);
            return;
        }

        await _writer.WriteWholeAsync(_arena!.Grant(value), CancellationToken.None).ConfigureAwait(false);
    }

    /// <summary>With <see cref="PythonPoolOptions.AllowedModules"/>, refuses a module not in it, or a name that is not public.</summary>
    private void CheckAllowed(string module, string function, string name)
    {
        if (_settings.AllowedModules is { } allowed)
        {
            if (!allowed.Contains(module))
            {
                throw PythonErrors.ModuleNotAllowed(_settings.PoolName, module, name);
            }

            // The module object's own attributes (__getattribute__, __setattr__, ...) would let a caller read or
            // replace any of its globals, and '_' names are private by Python's convention: not the allowed surface.
            if (function[0] == '_')
            {
                throw PythonErrors.NotPublic(_settings.PoolName, name);
            }
        }
    }

    /// <summary>Ready → Calling, or the typed refusal: a call or stream in progress, a stopped worker, one that ended.</summary>
    private async ValueTask BeginCallAsync(string name)
    {
        switch (TryBeginCall())
        {
            case Lifecycle.Ready:
                return;
            case Lifecycle.Stopped:
                throw PythonErrors.NotSentToStopped(_settings.PoolName, ProcessId, name);
            case Lifecycle.Ended or Lifecycle.Disposed:
                throw await NotRunningAsync(name).ConfigureAwait(false);
            default:
                throw PythonErrors.AlreadyCalling(ProcessId);
        }
    }

    /// <summary>
    /// Arms the worker's one timeout source for a wait of <paramref name="timeout"/> (a call, or a stream's next item);
    /// <see langword="null"/> when it is infinite. Released after the wait by <see cref="ReleaseCallTimeout"/>.
    /// </summary>
    private CancellationTokenSource? ArmCallTimeout(TimeSpan timeout)
    {
        if (timeout == Timeout.InfiniteTimeSpan)
        {
            return null;
        }

        var source = _callTimeout ??= new CancellationTokenSource(Timeout.InfiniteTimeSpan, _settings.Time);
        source.CancelAfter(timeout);
        return source;
    }

    /// <summary>
    /// Readies the timeout source for the next call, or drops it if it fired. It is never disposed under a call: a
    /// worker disposed meanwhile leaves it to the call (see EndCall).
    /// </summary>
    private void ReleaseCallTimeout(CancellationTokenSource timeout)
    {
        if (timeout.TryReset())
        {
            return;
        }

        timeout.Dispose();
        _callTimeout = null;
    }

    /// <summary>
    /// The crash of a worker that died (or was killed after a failure) before this call was sent: it names the exit
    /// code or signal, which is known once the exit has been seen.
    /// </summary>
    private async Task<PythonWorkerCrashedException> NotRunningAsync(string name)
    {
        await WaitForExitAsync().ConfigureAwait(false);
        return CrashException($"is no longer running, so {name} was not sent", SafeExitCode(), inner: null);
    }

    /// <summary>
    /// Sends the frame begun with the writer, whole. The token does not cut it short half way: the worker reads whole
    /// frames, and one left half-written would keep it waiting for the rest, out of step for good. Once the token
    /// fires, the worker has <see cref="PythonPoolOptions.CancelGracePeriod"/> to take the rest (a worker between
    /// calls reads at once); past it the write is abandoned and the worker killed and reported.
    /// </summary>
    /// <exception cref="OperationCanceledException">The write was abandoned; the worker is being killed.</exception>
    private async ValueTask SendWholeAsync(FrameKind kind, ulong id, CancellationToken token)
    {
        if (!token.CanBeCanceled)
        {
            await _writer.SendAsync(kind, id, CancellationToken.None).ConfigureAwait(false);
            return;
        }

        var abort = _sendAbort ??= new CancellationTokenSource(Timeout.InfiniteTimeSpan, _settings.Time);
        var send = _writer.SendAsync(kind, id, abort.Token);
        if (send.IsCompletedSuccessfully)
        {
            // Taken whole at once (a small frame, a worker reading): there was no wait for the token to cut short, so
            // no grace timer to watch for, and the abort source was never armed.
            send.GetAwaiter().GetResult();
            return;
        }

        try
        {
            // Registered once the write waits: on a token that fired meanwhile, the callback runs at once.
            using (token.UnsafeRegister(static s => ((PythonWorker)s!).OnSendCancelled(), this))
            {
                await send.ConfigureAwait(false);
            }
        }
        catch (OperationCanceledException) when (abort.IsCancellationRequested)
        {
            PythonLog.KilledAfterInterrupt(_logger, ProcessId, "(sending a frame)");
            KillAndReport(PythonErrors.FrameNotTaken(_settings.PoolName, ProcessId, _settings.CancelGracePeriod));
            throw new OperationCanceledException(token);
        }
        finally
        {
            // The grace timer, if the token fired, is stopped for the next frame; a source that fired is replaced.
            ReleaseSendAbort(abort);
        }
    }

    /// <summary>Like <see cref="ReleaseCallTimeout"/>: never disposed under a call.</summary>
    private void ReleaseSendAbort(CancellationTokenSource abort)
    {
        if (abort.TryReset())
        {
            return;
        }

        abort.Dispose();
        _sendAbort = null;
    }

    private void OnSendCancelled()
    {
        try
        {
            _sendAbort?.CancelAfter(_settings.CancelGracePeriod);
        }
        catch (ObjectDisposedException)
        {
            // Runs on the caller's thread as it cancels its token: whatever happened to the worker, never throw there.
        }
    }

    private T ReadResult<T, TState>(Frame frame, TState state, Func<Frame, TState, T> readResult, string name)
    {
        try
        {
            return _codec.ReadResult(frame, state, readResult, name, _arena);
        }
        catch (MalformedReplyException e)
        {
            throw Violation(e.Message, e.InnerException);
        }
    }

    private PythonException CallError(Frame frame, string name, IReadOnlyList<object?>? args)
    {
        var where = args is not null ? $"{name}({_codec.ArgumentsForMessage(args)})" : name;
        return PythonErrors.Raised(_settings.PoolName, name, where, PythonCallCodec.ReadError(frame));
    }

    /// <summary>A frame the protocol does not allow: kill the worker (the pool replaces it) and report it typed.</summary>
    private PythonProtocolException Violation(string reason, Exception? inner = null)
    {
        PythonLog.ProtocolViolation(_logger, ProcessId, reason);
        var error = PythonErrors.Violation(_settings.PoolName, ProcessId, reason, inner);
        KillAndReport(error);
        return error;
    }

    private async Task<PythonWorkerCrashedException> CrashedAsync(Exception? inner)
    {
        await WaitForExitAsync().ConfigureAwait(false);
        return CrashException("died", SafeExitCode(), inner);
    }
}
