using System.Diagnostics;
using System.Globalization;
using System.Text;
using System.Text.Json;
using System.Text.Json.Nodes;

namespace Lifeguard.Python;

/// <summary>
/// The pure encoding and decoding of calls (docs/protocol.md): the call frame's JSON with its <c>$bytes</c>
/// attachments, the reading of results, error frames and callback requests, callback answers, and the arguments'
/// text for error messages. It touches no process and no stream: it writes into a <see cref="FrameWriter"/>'s
/// current frame and reads <see cref="Frame"/> values, so it is tested without a worker. Stateless and thread-safe;
/// the writer it is given is not.
/// </summary>
internal sealed class PythonCallCodec(JsonSerializerOptions json, string poolName)
{
    /// <summary>The longest argument text an error message carries, before its "…".</summary>
    public const int MaxArgumentText = 200;

    /// <summary>The longest callback error type and message sent, so that the frame always fits the smallest maximum.</summary>
    public const int MaxCallbackErrorType = 200;

    /// <inheritdoc cref="MaxCallbackErrorType"/>
    public const int MaxCallbackErrorMessage = 500;

    /// <summary>The serializer options every value crosses the wire with.</summary>
    public JsonSerializerOptions Json => json;

    /// <summary>
    /// Writes the call frame's JSON (<c>{"m", "f", "a", "k"?, "tp"?, "ts"?, "sp"?}</c>) into the writer's frame begun
    /// here, its bytes values as attachments. Whatever goes wrong while the arguments are written (System.Text.Json
    /// refusing a type, a getter or a converter throwing, the frame growing past its maximum) is this call's
    /// <see cref="PythonSerializationException"/>, naming the argument; nothing has been sent.
    /// </summary>
    /// <remarks>
    /// <paramref name="spans"/>: whether Python is asked for the call's spans (<c>"sp": true</c>).
    /// <paramref name="streamWindow"/>: above 0, the call is a stream with that window (<c>"st"</c>).
    /// </remarks>
    public void WriteCall(
        FrameWriter writer,
        string module,
        string function,
        IReadOnlyList<object?>? args,
        IReadOnlyDictionary<string, object?>? kwargs,
        bool spans,
        int streamWindow = 0,
        SharedMemoryArena? shared = null)
    {
        var frame = writer.Begin();
        int position = -1;
        string? keyword = null;
        object? value = null;

        // A call's large bytes go through shared memory; a stream's and a remote caller's stay attachments (the
        // remote caller's reply too: it travels on as one frame, so the worker is told to keep it whole).
        bool remote = args is EncodedArguments;
        var viaShared = remote || streamWindow > 0 ? null : shared;
        try
        {
            using (PythonJson.BeginWrite(writer.Attachments, viaShared))
            {
                frame.WriteStartObject();
                frame.WriteString("m"u8, module);
                frame.WriteString("f"u8, function);
                frame.WritePropertyName("a"u8);
                if (args is EncodedArguments encoded)
                {
                    // A remote caller's arguments, encoded and checked already: written as they are, with their
                    // attachments in the order their references number them.
                    frame.WriteRawValue(encoded.Positional.Span, skipInputValidation: true);
                    if (encoded.Keywords is { } keywords)
                    {
                        frame.WritePropertyName("k"u8);
                        frame.WriteRawValue(keywords.Span, skipInputValidation: true);
                    }

                    writer.Attachments.AddRange(encoded.Attachments);
                }
                else
                {
                    frame.WriteStartArray();
                    for (int i = 0, count = args?.Count ?? 0; i < count; i++)
                    {
                        // By index: no enumerator to allocate per call.
                        position = i;
                        value = args![i];
                        WriteValue(frame, value);
                    }

                    frame.WriteEndArray();
                }

                if (kwargs is { Count: > 0 })
                {
                    frame.WritePropertyName("k"u8);
                    frame.WriteStartObject();
                    foreach (var (key, item) in kwargs)
                    {
                        keyword = key;
                        value = item;
                        frame.WritePropertyName(key);
                        WriteValue(frame, item);
                    }

                    frame.WriteEndObject();
                }

                if (Activity.Current is { } activity)
                {
                    frame.WriteString("tp"u8, activity.Id);
                    if (activity.TraceStateString is { } traceState)
                    {
                        frame.WriteString("ts"u8, traceState);
                    }
                }

                if (spans)
                {
                    frame.WriteBoolean("sp"u8, true);
                }

                if (streamWindow > 0)
                {
                    frame.WriteNumber("st"u8, streamWindow);
                }

                if (remote && shared is not null)
                {
                    frame.WriteBoolean("sm"u8, false);
                }

                frame.WriteEndObject();
                frame.Flush();
            }

            writer.Preamble = viaShared?.Commit(writer.PendingBytes);
        }
        catch (FrameTooLargeException)
        {
            throw PythonErrors.ArgumentsTooLarge(poolName, module + "." + function, writer.MaxFrameSize);
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
            throw PythonErrors.ArgumentsNotSerialised(
                poolName, module + "." + function, where.Length > 0 ? $"{where} ({value?.GetType().Name ?? "null"})" : "", reason, e);
        }
    }

    /// <summary>Writes one value as its runtime type (null as JSON null), inside the caller's write scope.</summary>
    public void WriteValue(Utf8JsonWriter writer, object? value)
    {
        if (value is null)
        {
            writer.WriteNullValue();
        }
        else
        {
            JsonSerializer.Serialize(writer, value, json.GetTypeInfo(value.GetType()));
        }
    }

    /// <summary>
    /// Reads a result frame with <paramref name="readResult"/>, its <c>$bytes</c> references resolved to its
    /// attachments.
    /// </summary>
    /// <exception cref="MalformedReplyException">The result is not well-formed JSON: the worker broke the protocol.</exception>
    /// <exception cref="PythonProtocolException">An attachment reference or the attachments are malformed (no pool named).</exception>
    /// <exception cref="PythonSerializationException">
    /// Well-formed JSON that does not bind to <typeparamref name="T"/>, or a result type that refused the value; the
    /// reply was read whole, so the worker is fine.
    /// </exception>
    public T ReadResult<T, TState>(Frame frame, TState state, Func<Frame, TState, T> readResult, string name, SharedMemoryArena? shared = null)
    {
        try
        {
            shared?.BeginRead(FrameBytes(frame));
            using (PythonJson.BeginRead(frame.Attachments, shared))
            {
                return readResult(frame, state);
            }
        }
        catch (JsonException e)
        {
            if (!IsWellFormed(frame.Json.Span))
            {
                throw new MalformedReplyException($"the result of {name} is not valid JSON ({e.Message})", e);
            }

            // Well-formed JSON of another shape: a member the type cannot leave empty is missing or null, or a value
            // has the wrong type. The message names the member and the keys the Python value had.
            throw PythonErrors.ResultNotRead(
                poolName, name, ResultBinding.TypeName(typeof(T)), ResultBinding.Explain(frame.Json.Span, state as System.Text.Json.Serialization.Metadata.JsonTypeInfo, e), e);
        }
        catch (Exception e) when (e is not PythonProtocolException)
        {
            // The result type refused the value (a constructor or setter threw, a type System.Text.Json does not
            // support): the reply was read whole, so the worker is fine.
            throw PythonErrors.ResultNotRead(poolName, name, ResultBinding.TypeName(typeof(T)), e.Message, e);
        }
    }

    /// <summary>
    /// The frame's JSON as one element, <c>{"$bytes": i}</c> references replaced by base64 strings (as <c>byte[]</c>
    /// looks in JSON). Runs inside the frame's read scope (<see cref="PythonJson.BeginRead"/>).
    /// </summary>
    /// <exception cref="JsonException">Not one well-formed JSON value, or nested deeper than the options allow.</exception>
    /// <exception cref="PythonProtocolException">A reference points at no attachment, or at one already read.</exception>
    public JsonElement ReadUntyped(Frame frame)
    {
        var reader = new Utf8JsonReader(frame.Json.Span, new JsonReaderOptions { MaxDepth = json.MaxDepth == 0 ? 64 : json.MaxDepth });
        var element = JsonElement.ParseValue(ref reader);

        // ParseValue stops after the value; reading on throws if anything but whitespace follows it.
        _ = reader.Read();

        // A reference with no attachment at all is as much a violation as one past the last: both are resolved.
        return frame.Attachments.IsEmpty && frame.Json.Span.IndexOf("\"$bytes\""u8) < 0 && frame.Json.Span.IndexOf("\"$shm\""u8) < 0
            ? element
            : InlineBytes(element);
    }

    /// <summary>The size of a frame as read, its length prefix included.</summary>
    public static long FrameBytes(Frame frame) => 17 + frame.Json.Length + frame.Attachments.Length;

    /// <summary>Reads an error frame: <c>{"type": string, "message": string, "kind"?: string, "traceback"?: string}</c>.</summary>
    /// <exception cref="PythonProtocolException">Not that object (no pool named: the caller adds it).</exception>
    public static ErrorReply ReadError(Frame frame)
    {
        try
        {
            using var document = JsonDocument.Parse(frame.Json);
            var root = document.RootElement;
            return new ErrorReply(
                root.TryGetProperty("kind", out var k) ? k.GetString() ?? "" : "",
                root.GetProperty("type").GetString() ?? throw new InvalidOperationException("\"type\" is null."),
                root.GetProperty("message").GetString() ?? throw new InvalidOperationException("\"message\" is null."),
                root.TryGetProperty("traceback", out var tb) ? tb.GetString() ?? "" : "");
        }
        catch (Exception e) when (e is JsonException or InvalidOperationException or KeyNotFoundException)
        {
            throw new PythonProtocolException(
                $"The worker sent an error frame that is not {{\"type\": string, \"message\": string, ...}} ({e.Message}).", null, e);
        }
    }

    /// <summary>Reads a callback request, <c>{"n": name, "a": [args]}</c>, its bytes inlined as base64 strings.</summary>
    /// <exception cref="PythonProtocolException">Not that object, or a malformed attachment reference (no pool named).</exception>
    public (string Name, List<JsonElement> Args) ReadCallbackRequest(Frame frame)
    {
        try
        {
            using (PythonJson.BeginRead(frame.Attachments))
            {
                var request = ReadUntyped(frame);
                return (request.GetProperty("n").GetString() ?? "", [.. request.GetProperty("a").EnumerateArray()]);
            }
        }
        catch (Exception e) when (e is JsonException or InvalidOperationException or KeyNotFoundException)
        {
            throw new PythonProtocolException($"a callback request that is not {{\"n\": name, \"a\": [args]}}: {e.Message}", e);
        }
    }

    /// <summary>
    /// Writes a host callback's result into the writer's frame begun here. Returns the error to answer with instead
    /// when the value cannot be serialised or is too large: Python gets an answer either way, or it would wait for one
    /// while the worker went back to the pool.
    /// </summary>
    public PythonSerializationException? WriteCallbackResult(FrameWriter writer, string name, object? result)
    {
        var frame = writer.Begin();
        try
        {
            using (PythonJson.BeginWrite(writer.Attachments))
            {
                WriteValue(frame, result);
            }

            frame.Flush();
            return null;
        }
        catch (FrameTooLargeException e)
        {
            return PythonErrors.CallbackResultTooLarge(poolName, name, writer.MaxFrameSize, e);
        }
        catch (Exception e)
        {
            // Whatever the value's serialisation threw (a getter, a type System.Text.Json refuses).
            return PythonErrors.CallbackResultNotSerialised(poolName, name, e);
        }
    }

    /// <summary>
    /// Begins a callback error frame, <c>{"type", "message"}</c>; the type and message are cut short so that it
    /// always fits the smallest frame.
    /// </summary>
    public static void WriteCallbackError(FrameWriter writer, string type, string message)
    {
        var frame = writer.Begin();
        frame.WriteStartObject();
        frame.WriteString("type"u8, type.Length <= MaxCallbackErrorType ? type : type[..MaxCallbackErrorType]);
        frame.WriteString("message"u8, message.Length <= MaxCallbackErrorMessage ? message : message[..MaxCallbackErrorMessage] + "…");
        frame.WriteEndObject();
    }

    /// <summary>
    /// The arguments as JSON for an error message (IncludeArgumentsInErrors), at most <see cref="MaxArgumentText"/>
    /// characters and "…" when cut. They are written into a small fixed buffer that stops the serialisation once full,
    /// so a large argument costs nothing here; arguments that throw when read a second time leave the message without
    /// them, never another exception.
    /// </summary>
    public string ArgumentsForMessage(IReadOnlyList<object?> args)
    {
        var buffer = new FixedBuffer(8 * 1024);
        try
        {
            using (var writer = new Utf8JsonWriter(buffer))
            {
                JsonSerializer.Serialize(writer, args, json.GetTypeInfo(typeof(IReadOnlyList<object?>)));
            }

            return Truncate(Encoding.UTF8.GetString(buffer.Written), MaxArgumentText);
        }
        catch (FrameTooLargeException)
        {
            // Cut short: what was written so far, and the mark that more followed.
            var start = Encoding.UTF8.GetString(buffer.Written);
            return (start.Length <= MaxArgumentText ? start : start[..MaxArgumentText]) + "…";
        }
        catch (Exception e)
        {
            return $"arguments not shown: reading them again threw {e.GetType().Name}";
        }
    }

    /// <summary>Whether the bytes are one or more well-formed JSON values (nesting up to 1024).</summary>
    public static bool IsWellFormed(ReadOnlySpan<byte> bytes)
    {
        try
        {
            var reader = new Utf8JsonReader(bytes, new JsonReaderOptions { MaxDepth = 1024 });
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

    private JsonElement InlineBytes(JsonElement element)
    {
        var node = JsonNode.Parse(element.GetRawText());
        return JsonSerializer.SerializeToElement(Inline(node), json.GetTypeInfo(typeof(JsonNode)));

        static JsonNode? Inline(JsonNode? node)
        {
            switch (node)
            {
                case JsonObject obj when obj.Count == 1 && obj["$bytes"] is JsonValue index && index.TryGetValue<int>(out int i):
                    return JsonValue.Create(Convert.ToBase64String(PythonJson.Attachment(i)));
                case JsonObject obj when obj.Count == 1 && obj["$shm"] is JsonArray { Count: 3 } reference
                    && reference[0] is JsonValue slot && slot.TryGetValue<long>(out long s)
                    && reference[1] is JsonValue offset && offset.TryGetValue<long>(out long o)
                    && reference[2] is JsonValue length && length.TryGetValue<long>(out long l):
                    return JsonValue.Create(Convert.ToBase64String(PythonJson.Shared(s, o, l)));
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
}

/// <summary>An error frame's fields (docs/protocol.md, "Errors").</summary>
internal readonly record struct ErrorReply(string Kind, string Type, string Message, string Traceback);

/// <summary>A reply that is not well-formed JSON; the worker that sent it broke the protocol. The message is the reason.</summary>
internal sealed class MalformedReplyException : Exception
{
    public MalformedReplyException()
    {
    }

    public MalformedReplyException(string message)
        : base(message)
    {
    }

    public MalformedReplyException(string message, Exception innerException)
        : base(message, innerException)
    {
    }
}
