using System.Diagnostics;
using System.Globalization;
using System.Text;
using System.Text.Json;
using System.Text.Json.Nodes;
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
    /// <param name="cancellationToken">Interrupts the call (KeyboardInterrupt inside it).</param>
    /// <exception cref="PythonException">The Python code raised; the worker stays usable.</exception>
    /// <exception cref="PythonCallTimeoutException">The call ran past <see cref="PythonPoolOptions.CallTimeout"/>.</exception>
    /// <exception cref="PythonWorkerCrashedException">The process died during the call.</exception>
    /// <exception cref="PythonProtocolException">The process broke the protocol and was killed.</exception>
    /// <exception cref="PythonSerializationException">
    /// The arguments or the result could not cross the wire: for a result, a value of the wrong type, or a missing or
    /// null member that <typeparamref name="T"/> cannot leave empty (the message names it and the keys Python sent).
    /// </exception>
    /// <exception cref="OperationCanceledException"><paramref name="cancellationToken"/> fired.</exception>
    public Task<T?> CallAsync<T>(
        string module,
        string function,
        IReadOnlyList<object?>? args = null,
        IReadOnlyDictionary<string, object?>? kwargs = null,
        CancellationToken cancellationToken = default)
        => CallAsync(module, function, (JsonTypeInfo<T>)_settings.Json.GetTypeInfo(typeof(T)), args, kwargs, cancellationToken);

    /// <summary>As <see cref="CallAsync{T}(string, string, IReadOnlyList{object?}?, IReadOnlyDictionary{string, object?}?, CancellationToken)"/>, reading the result with <paramref name="resultType"/> (trimming- and AOT-safe).</summary>
    public Task<T?> CallAsync<T>(
        string module,
        string function,
        JsonTypeInfo<T> resultType,
        IReadOnlyList<object?>? args = null,
        IReadOnlyDictionary<string, object?>? kwargs = null,
        CancellationToken cancellationToken = default)
    {
        ArgumentNullException.ThrowIfNull(resultType);
        return CallCoreAsync(module, function, args, kwargs, resultType, static (frame, typeInfo) => JsonSerializer.Deserialize(frame.Json.Span, typeInfo), cancellationToken);
    }

    /// <summary>As the typed overloads, returning the result as a <see cref="JsonElement"/> (bytes appear as base64 strings).</summary>
    public Task<JsonElement> CallAsync(
        string module,
        string function,
        IReadOnlyList<object?>? args = null,
        IReadOnlyDictionary<string, object?>? kwargs = null,
        CancellationToken cancellationToken = default)
        => CallCoreAsync(module, function, args, kwargs, this, static (frame, self) => self.ReadUntyped(frame), cancellationToken);

    /// <summary>
    /// A call, inside a <c>module.function</c> span when the <c>Lifeguard</c> source has a listener (docs/hosting.md,
    /// "Tracing"); without one, the call as it is, with no span work at all.
    /// </summary>
    private Task<T> CallCoreAsync<T, TState>(
        string module,
        string function,
        IReadOnlyList<object?>? args,
        IReadOnlyDictionary<string, object?>? kwargs,
        TState state,
        Func<Frame, TState, T> readResult,
        CancellationToken cancellationToken)
        => PythonTracing.Source.HasListeners()
            ? CallTracedAsync(module, function, args, kwargs, state, readResult, cancellationToken)
            : CallOnceAsync(module, function, args, kwargs, state, readResult, trace: null, cancellationToken);

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
        TState state,
        Func<Frame, TState, T> readResult,
        CancellationToken cancellationToken)
    {
        using var activity = PythonTracing.Source.StartActivity(module + "." + function);
        if (activity is null)
        {
            return await CallOnceAsync(module, function, args, kwargs, state, readResult, trace: null, cancellationToken).ConfigureAwait(false);
        }

        activity.SetTag(LifeguardTracing.PoolNameTag, _settings.PoolName);
        activity.SetTag(PythonTracing.ProcessPidTag, ProcessId);
        activity.SetTag(PythonTracing.ModuleTag, module);
        activity.SetTag(PythonTracing.FunctionTag, function);
        var trace = activity.IsAllDataRequested && CollectsSpans ? new CallTrace(activity) : null;
        try
        {
            var result = await CallOnceAsync(module, function, args, kwargs, state, readResult, trace, cancellationToken).ConfigureAwait(false);
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
        TState state,
        Func<Frame, TState, T> readResult,
        CallTrace? trace,
        CancellationToken cancellationToken)
    {
        ArgumentException.ThrowIfNullOrEmpty(module);
        ArgumentException.ThrowIfNullOrEmpty(function);
        cancellationToken.ThrowIfCancellationRequested();
        string name = module + "." + function;
        if (_settings.AllowedModules is { } allowed)
        {
            if (!allowed.Contains(module))
            {
                throw new PythonModuleNotAllowedException(
                    $"Module '{module}' is not in the module allowlist of pool '{_settings.PoolName}' (AllowedModules); {name} was not called.",
                    _settings.PoolName);
            }

            // The module object's own attributes (__getattribute__, __setattr__, ...) would let a caller read or
            // replace any of its globals, and '_' names are private by Python's convention: not the allowed surface.
            if (function[0] == '_')
            {
                throw new PythonModuleNotAllowedException(
                    $"{name} is not a public function (its name starts with '_'): with AllowedModules set, only the public functions of the "
                        + "allowed modules can be called; it was not called.",
                    _settings.PoolName);
            }
        }

        switch (TryBeginCall())
        {
            case Lifecycle.Ready:
                break;
            case Lifecycle.Stopped:
                throw new PoolStoppedException(
                    $"Python worker {ProcessId} was stopped by pool '{_settings.PoolName}'; {name} was not sent.", _settings.PoolName);
            case Lifecycle.Ended or Lifecycle.Disposed:
                throw await NotRunningAsync(name).ConfigureAwait(false);
            default:
                throw new InvalidOperationException(
                    $"Python worker {ProcessId} is already serving a call: a worker serves one call at a time. Use the pool, or await the previous call.");
        }

        try
        {
            if (IsDead)
            {
                throw await NotRunningAsync(name).ConfigureAwait(false);
            }

            ulong id = ++_lastCallId;
            _trace = trace;
            SerializeCall(module, function, args, kwargs, name);
            Volatile.Write(ref _current, new CurrentCall(name, _settings.Time.GetTimestamp()));
            // One timeout source per worker, re-armed per call and reset after it (a new timer per call measured
            // ~0.3 µs and 350 B); a linked source only when the caller's token can fire at all.
            CancellationTokenSource? timeout = null;
            if (_settings.CallTimeout != Timeout.InfiniteTimeSpan)
            {
                timeout = _callTimeout ??= new CancellationTokenSource(Timeout.InfiniteTimeSpan, _settings.Time);
                timeout.CancelAfter(_settings.CallTimeout);
            }

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
                await SendWholeAsync(FrameKind.Call, id, token).ConfigureAwait(false);
                while (true)
                {
                    var frame = await _reader.ReadAsync(token).ConfigureAwait(false) ?? throw await CrashedAsync(null).ConfigureAwait(false);
                    if (frame.Kind == FrameKind.Callback)
                    {
                        await AnswerCallbackAsync(frame, token).ConfigureAwait(false);
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
                        throw CallError(frame, name, args);
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

                throw new PythonCallTimeoutException(
                    $"{name} on Python worker {ProcessId} of pool '{_settings.PoolName}' did not finish within {_settings.CallTimeout} (CallTimeout); "
                        + (killed ? "it did not stop when interrupted, so the worker was killed and will be replaced."
                            : sent ? "it was interrupted and the worker kept." : "it was never sent, and the worker kept."),
                    _settings.PoolName,
                    name,
                    _settings.CallTimeout,
                    killed);
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
                throw ArgumentsTooLarge(name);
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
            throw new PoolStoppedException(
                $"Pool '{_settings.PoolName}' stopped Python worker {ProcessId} while it ran {name}: the pool is stopping and the call "
                    + "outlasted its DrainTimeout, so the call was interrupted.",
                _settings.PoolName);
        }
        finally
        {
            _trace = null;
            Volatile.Write(ref _current, null);
            EndCall();
        }
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
    /// Writes the call frame's JSON. Whatever goes wrong while the arguments are written (System.Text.Json refusing a
    /// type, a getter or a converter throwing, the frame growing past its maximum) is this call's
    /// <see cref="PythonSerializationException"/>, naming the argument; nothing has been sent.
    /// </summary>
    private void SerializeCall(string module, string function, IReadOnlyList<object?>? args, IReadOnlyDictionary<string, object?>? kwargs, string name)
    {
        var json = _writer.Begin();
        int position = -1;
        string? keyword = null;
        object? value = null;
        try
        {
            using (PythonJson.BeginWrite(_writer.Attachments))
            {
                json.WriteStartObject();
                json.WriteString("m"u8, module);
                json.WriteString("f"u8, function);
                json.WritePropertyName("a"u8);
                json.WriteStartArray();
                foreach (var arg in args ?? [])
                {
                    position++;
                    value = arg;
                    WriteValue(json, arg);
                }

                json.WriteEndArray();
                if (kwargs is { Count: > 0 })
                {
                    json.WritePropertyName("k"u8);
                    json.WriteStartObject();
                    foreach (var (key, item) in kwargs)
                    {
                        keyword = key;
                        value = item;
                        json.WritePropertyName(key);
                        WriteValue(json, item);
                    }

                    json.WriteEndObject();
                }

                if (Activity.Current is { } activity)
                {
                    json.WriteString("tp"u8, activity.Id);
                    if (activity.TraceStateString is { } traceState)
                    {
                        json.WriteString("ts"u8, traceState);
                    }
                }

                if (_trace is not null)
                {
                    json.WriteBoolean("sp"u8, true);
                }

                json.WriteEndObject();
                json.Flush();
            }
        }
        catch (FrameTooLargeException)
        {
            throw ArgumentsTooLarge(name);
        }
        catch (Exception e)
        {
            string where = keyword is not null ? $"keyword argument '{keyword}'" : position >= 0 ? $"positional argument {position}" : "";
            string? nonFinite = value switch
            {
                double d when !double.IsFinite(d) => d.ToString(CultureInfo.InvariantCulture),
                float f when !float.IsFinite(f) => f.ToString(CultureInfo.InvariantCulture),
                _ => null,
            };
            string reason = nonFinite is not null
                ? $"{nonFinite} is not a JSON number; set PythonPoolOptions.AllowNamedFloatingPointLiterals "
                    + "to send NaN and infinities as the strings \"NaN\", \"Infinity\" and \"-Infinity\"."
                : e.Message;
            throw new PythonSerializationException(
                $"The arguments of {name} could not be serialised to JSON: "
                    + (where.Length > 0 ? $"{where} ({value?.GetType().Name ?? "null"}): " : "")
                    + reason,
                _settings.PoolName,
                e);
        }
    }

    private PythonSerializationException ArgumentsTooLarge(string name)
        => new(
            $"The arguments of {name} take more than {_writer.MaxFrameSize} bytes, the maximum frame size of pool '{_settings.PoolName}' "
                + "(PythonPoolOptions.MaxFrameSize); nothing was sent.",
            _settings.PoolName);

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
        try
        {
            using (token.UnsafeRegister(static s => ((PythonWorker)s!).OnSendCancelled(), this))
            {
                await _writer.SendAsync(kind, id, abort.Token).ConfigureAwait(false);
            }
        }
        catch (OperationCanceledException) when (abort.IsCancellationRequested)
        {
            PythonLog.KilledAfterInterrupt(_logger, ProcessId, "(sending a frame)");
            KillAndReport(new PythonCallTimeoutException(
                $"Python worker {ProcessId} of pool '{_settings.PoolName}' did not take a frame within {_settings.CancelGracePeriod} of its call being "
                    + "cancelled (CancelGracePeriod); the worker was killed.",
                _settings.PoolName,
                "",
                _settings.CancelGracePeriod,
                workerKilled: true));
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

    private void WriteValue(Utf8JsonWriter json, object? value)
    {
        if (value is null)
        {
            json.WriteNullValue();
        }
        else
        {
            JsonSerializer.Serialize(json, value, _settings.Json.GetTypeInfo(value.GetType()));
        }
    }

    private T ReadResult<T, TState>(Frame frame, TState state, Func<Frame, TState, T> readResult, string name)
    {
        try
        {
            using (PythonJson.BeginRead(frame.Attachments))
            {
                return readResult(frame, state);
            }
        }
        catch (JsonException e)
        {
            if (!IsWellFormed(frame.Json.Span))
            {
                throw Violation($"the result of {name} is not valid JSON ({e.Message})", e);
            }

            // Well-formed JSON of another shape: a member the type cannot leave empty is missing or null, or a value
            // has the wrong type. The message names the member and the keys the Python value had.
            throw new PythonSerializationException(
                $"The result of {name} could not be read as {ResultBinding.TypeName(typeof(T))}: {ResultBinding.Explain(frame.Json.Span, state as JsonTypeInfo, e)}",
                _settings.PoolName,
                e);
        }
        catch (Exception e) when (e is not PythonProtocolException)
        {
            // The result type refused the value (a constructor or setter threw, a type System.Text.Json does not
            // support): the reply was read whole, so the worker is fine.
            throw new PythonSerializationException(
                $"The result of {name} could not be read as {ResultBinding.TypeName(typeof(T))}: {e.Message}", _settings.PoolName, e);
        }
    }

    private JsonElement ReadUntyped(Frame frame)
    {
        var reader = new Utf8JsonReader(frame.Json.Span, new JsonReaderOptions { MaxDepth = _settings.Json.MaxDepth == 0 ? 64 : _settings.Json.MaxDepth });
        var element = JsonElement.ParseValue(ref reader);

        // ParseValue stops after the value; reading on throws if anything but whitespace follows it.
        _ = reader.Read();

        // A reference with no attachment at all is as much a violation as one past the last: both are resolved.
        return frame.Attachments.IsEmpty && frame.Json.Span.IndexOf("\"$bytes\""u8) < 0 ? element : InlineBytes(element);
    }

    /// <summary>
    /// Replaces <c>{"$bytes": i}</c> references with base64 strings, as <c>byte[]</c> looks in JSON. Runs inside the
    /// frame's read scope, so the references resolve to its attachments.
    /// </summary>
    private JsonElement InlineBytes(JsonElement element)
    {
        var node = JsonNode.Parse(element.GetRawText());
        return JsonSerializer.SerializeToElement(Inline(node), _settings.Json.GetTypeInfo(typeof(JsonNode)));

        static JsonNode? Inline(JsonNode? node)
        {
            switch (node)
            {
                case JsonObject obj when obj.Count == 1 && obj["$bytes"] is JsonValue index && index.TryGetValue<int>(out int i):
                    return JsonValue.Create(Convert.ToBase64String(PythonJson.Attachment(i)));
                case JsonObject obj:
                    foreach (var key in obj.Select(p => p.Key).ToList())
                    {
                        var child = obj[key];
                        var replaced = Inline(child);
                        if (!ReferenceEquals(child, replaced))
                        {
                            obj[key] = replaced;
                        }
                    }

                    return obj;
                case JsonArray array:
                    for (int i = 0; i < array.Count; i++)
                    {
                        var child = array[i];
                        var replaced = Inline(child);
                        if (!ReferenceEquals(child, replaced))
                        {
                            array[i] = replaced;
                        }
                    }

                    return array;
                default:
                    return node;
            }
        }
    }

    private static bool IsWellFormed(ReadOnlySpan<byte> json)
    {
        try
        {
            var reader = new Utf8JsonReader(json, new JsonReaderOptions { MaxDepth = 1024 });
            while (reader.Read())
            {
            }

            return true;
        }
        catch (JsonException)
        {
            return false;
        }
    }

    private Exception CallError(Frame frame, string name, IReadOnlyList<object?>? args)
    {
        var (_, type, message, traceback) = ReadError(frame);
        var where = _settings.IncludeArgumentsInErrors && args is not null ? $"{name}({ArgumentsForMessage(args)})" : name;
        return new PythonException($"{type}: {message} (in {where})", _settings.PoolName, type, message, traceback, name);
    }

    /// <summary>
    /// The arguments as JSON for an error message (IncludeArgumentsInErrors), at most 200 characters. They are
    /// written into a small fixed buffer that stops the serialisation once full, so a large argument costs nothing
    /// here; arguments that throw when read a second time leave the message without them, never another exception.
    /// </summary>
    private string ArgumentsForMessage(IReadOnlyList<object?> args)
    {
        var buffer = new FixedBuffer(8 * 1024);
        try
        {
            using (var json = new Utf8JsonWriter(buffer))
            {
                JsonSerializer.Serialize(json, args, _settings.Json.GetTypeInfo(typeof(IReadOnlyList<object?>)));
            }

            return Truncate(Encoding.UTF8.GetString(buffer.Written), 200);
        }
        catch (FrameTooLargeException)
        {
            // Cut short: what was written so far, and the mark that more followed.
            var start = Encoding.UTF8.GetString(buffer.Written);
            return (start.Length <= 200 ? start : start[..200]) + "…";
        }
        catch (Exception e)
        {
            return $"arguments not shown: reading them again threw {e.GetType().Name}";
        }
    }

    private static string Truncate(string text, int length) => text.Length <= length ? text : text[..length] + "…";

    /// <summary>A buffer of fixed capacity that throws <see cref="FrameTooLargeException"/> instead of growing.</summary>
    private sealed class FixedBuffer(int capacity) : System.Buffers.IBufferWriter<byte>
    {
        private readonly byte[] _bytes = new byte[capacity];
        private int _written;

        public ReadOnlySpan<byte> Written => _bytes.AsSpan(0, _written);

        public void Advance(int count) => _written += count;

        public Memory<byte> GetMemory(int sizeHint = 0)
            => sizeHint <= capacity - _written && _written < capacity ? _bytes.AsMemory(_written) : throw new FrameTooLargeException();

        public Span<byte> GetSpan(int sizeHint = 0) => GetMemory(sizeHint).Span;
    }

    /// <summary>A frame the protocol does not allow: kill the worker (the pool replaces it) and report it typed.</summary>
    private PythonProtocolException Violation(string reason, Exception? inner = null)
    {
        PythonLog.ProtocolViolation(_logger, ProcessId, reason);
        var error = new PythonProtocolException(
            $"Python worker {ProcessId} of pool '{_settings.PoolName}' broke the protocol: {reason.TrimEnd('.')}. It was killed and will be replaced.",
            _settings.PoolName,
            inner);
        KillAndReport(error);
        return error;
    }

    private async Task<PythonWorkerCrashedException> CrashedAsync(Exception? inner)
    {
        await WaitForExitAsync().ConfigureAwait(false);
        return CrashException("died", SafeExitCode(), inner);
    }
}
