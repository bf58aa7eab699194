using System.Buffers.Binary;
using System.Diagnostics.CodeAnalysis;
using System.Globalization;
using System.Numerics;
using System.Text.Json;
using System.Text.Json.Serialization;
using System.Text.Json.Serialization.Metadata;

namespace Lifeguard.Python;

/// <summary>
/// The JSON mapping of the wire. <c>byte[]</c> travels as a frame attachment referenced by <c>{"$bytes": i}</c>, not
/// as base64; <see cref="BigInteger"/> as a plain JSON number of any size. The attachment context is thread-static
/// and set only around one synchronous (de)serialization, so concurrent calls on other threads never mix.
/// </summary>
internal static class PythonJson
{
    [ThreadStatic]
    private static List<ReadOnlyMemory<byte>>? _threadWriting;

    [ThreadStatic]
    private static ReadOnlyMemory<byte> _threadReading;

    [ThreadStatic]
    private static List<(int Offset, int Length)>? _threadReadIndex;

    [ThreadStatic]
    private static SharedMemoryArena? _threadWritingShared;

    [ThreadStatic]
    private static SharedMemoryArena? _threadReadingShared;

    /// <summary>
    /// The options of a pool: a copy of the user's, taken as given (their naming, their strictness), or else the
    /// defaults: Python's snake_case keys for .NET's PascalCase members, matched exactly, and strict binding (a
    /// result missing a constructor parameter or a <c>required</c> member, or carrying null for a non-nullable one,
    /// is an error rather than a silent default). Dictionary keys, like keyword argument names, are sent as given
    /// (no <see cref="JsonSerializerOptions.DictionaryKeyPolicy"/>). The wire's own converters are added either way,
    /// <see cref="ValueTuple"/>s as JSON arrays (Python's tuples) among them.
    /// </summary>
    [UnconditionalSuppressMessage("Trimming", "IL2026", Justification = "Reflection serves only apps that keep it enabled (JsonSerializer.IsReflectionEnabledByDefault); trimmed and AOT apps pass options with their own TypeInfoResolver.")]
    [UnconditionalSuppressMessage("AOT", "IL3050", Justification = "As above: reflection only where the app keeps it enabled.")]
    public static JsonSerializerOptions CreateOptions(JsonSerializerOptions? user, bool namedFloats)
    {
        var options = user is null
            ? new JsonSerializerOptions(JsonSerializerDefaults.General)
            {
                PropertyNamingPolicy = JsonNamingPolicy.SnakeCaseLower,
                RespectNullableAnnotations = true,
                RespectRequiredConstructorParameters = true,
            }
            : new JsonSerializerOptions(user);
        options.Converters.Insert(0, new BytesConverter());
        options.Converters.Insert(1, new BigIntegerConverter());
        options.Converters.Insert(2, new TaskRefusingConverterFactory());
        options.Converters.Insert(3, new ReadOnlyMemoryConverter());

        // Last: a converter of the app's own for tuples comes first and wins.
        options.Converters.Add(new ValueTupleConverterFactory());
        if (namedFloats)
        {
            options.NumberHandling |= JsonNumberHandling.AllowNamedFloatingPointLiterals;
        }

        // The app's resolver first (its source-generated context in a trimmed app); ours for the types the wire
        // itself needs (JsonNode, JsonElement, byte[]) last.
        var resolver = user?.TypeInfoResolver ?? (JsonSerializer.IsReflectionEnabledByDefault ? new DefaultJsonTypeInfoResolver() : null);
        options.TypeInfoResolver = resolver is null ? WireJsonContext.Default : JsonTypeInfoResolver.Combine(resolver, WireJsonContext.Default);
        options.MakeReadOnly();
        return options;
    }

    /// <summary>
    /// Bytes written inside the scope become attachments, or, from <paramref name="shared"/>'s threshold up, references
    /// to what it stages for slot 0 (<c>{"$shm": [0, offset, length]}</c>).
    /// </summary>
    public static WriteScope BeginWrite(List<ReadOnlyMemory<byte>> attachments, SharedMemoryArena? shared = null)
    {
        _threadWriting = attachments;
        _threadWritingShared = shared;
        return default;
    }

    /// <summary>Bytes read inside the scope come from the frame's attachments, or from <paramref name="shared"/> for <c>$shm</c> references.</summary>
    public static ReadScope BeginRead(ReadOnlyMemory<byte> attachments, SharedMemoryArena? shared = null)
    {
        _threadReading = attachments;
        _threadReadIndex = null;
        _threadReadingShared = shared;
        return default;
    }

    /// <summary>
    /// The bytes a <c>{"$shm": [slot, offset, length]}</c> reference of the frame being read names, copied out of this
    /// worker's segment (inside <see cref="BeginRead"/>).
    /// </summary>
    /// <exception cref="PythonProtocolException">No shared memory for this frame, or a reference outside it.</exception>
    public static byte[] Shared(long slot, long offset, long length)
        => _threadReadingShared is { } shared
            ? shared.Copy(slot, offset, length)
            : throw new PythonProtocolException("A {\"$shm\": ...} reference arrived in a frame that has no shared memory.");

    /// <summary>
    /// Attachment <paramref name="index"/> of the frame being read (inside <see cref="BeginRead"/>). Each is read once:
    /// a second reference is a protocol violation, so the bytes copied out of a frame never exceed the frame.
    /// </summary>
    public static byte[] Attachment(int index)
    {
        if (_threadReadIndex is null)
        {
            var index2 = new List<(int, int)>();
            var span = _threadReading.Span;
            int position = 0;
            while (position < span.Length)
            {
                if (position + 4 > span.Length)
                {
                    throw new PythonProtocolException("An attachment header overruns its frame.");
                }

                int length = checked((int)BinaryPrimitives.ReadUInt32BigEndian(span[position..]));
                position += 4;
                if (length > span.Length - position)
                {
                    throw new PythonProtocolException("An attachment overruns its frame.");
                }

                index2.Add((position, length));
                position += length;
            }

            _threadReadIndex = index2;
        }

        if ((uint)index >= (uint)_threadReadIndex.Count)
        {
            throw new PythonProtocolException($"A {{\"$bytes\": {index}}} reference points at no attachment ({_threadReadIndex.Count} in the frame).");
        }

        var (offset, size) = _threadReadIndex[index];
        if (size < 0)
        {
            throw new PythonProtocolException($"A {{\"$bytes\": {index}}} reference points at an attachment already read: each is referenced once.");
        }

        _threadReadIndex[index] = (offset, -1);
        return _threadReading.Span.Slice(offset, size).ToArray();
    }

    internal readonly struct WriteScope : IDisposable
    {
        public void Dispose()
        {
            _threadWriting = null;
            _threadWritingShared = null;
        }
    }

    internal readonly struct ReadScope : IDisposable
    {
        public void Dispose()
        {
            _threadReading = default;
            _threadReadIndex = null;
            _threadReadingShared = null;
        }
    }

    /// <summary>Reads a bytes value: JSON null, a base64 string, <c>{"$bytes": i}</c> or <c>{"$shm": [slot, offset, length]}</c>.</summary>
    private static byte[]? ReadBytes(ref Utf8JsonReader reader)
    {
        switch (reader.TokenType)
        {
            case JsonTokenType.Null:
                return null;
            case JsonTokenType.String:
                return reader.GetBytesFromBase64();
            case JsonTokenType.StartObject:
                reader.Read();
                if (reader.TokenType == JsonTokenType.PropertyName && reader.ValueTextEquals("$shm"u8))
                {
                    reader.Read();
                    if (reader.TokenType != JsonTokenType.StartArray)
                    {
                        throw new JsonException("Expected {\"$shm\": [slot, offset, length]} for a bytes value.");
                    }

                    reader.Read();
                    long slot = reader.GetInt64();
                    reader.Read();
                    long offset = reader.GetInt64();
                    reader.Read();
                    long length = reader.GetInt64();
                    reader.Read();
                    if (reader.TokenType != JsonTokenType.EndArray || !reader.Read() || reader.TokenType != JsonTokenType.EndObject)
                    {
                        throw new JsonException("Expected {\"$shm\": [slot, offset, length]} for a bytes value.");
                    }

                    return Shared(slot, offset, length);
                }

                if (reader.TokenType != JsonTokenType.PropertyName || !reader.ValueTextEquals("$bytes"u8))
                {
                    throw new JsonException("Expected {\"$bytes\": index} for a bytes value.");
                }

                reader.Read();
                int index = reader.GetInt32();
                reader.Read();
                if (reader.TokenType != JsonTokenType.EndObject)
                {
                    throw new JsonException("Expected {\"$bytes\": index} for a bytes value.");
                }

                return Attachment(index);
            default:
                throw new JsonException($"Expected bytes, found {reader.TokenType}.");
        }
    }

    /// <summary>
    /// Writes a bytes value: through shared memory from the threshold up when the scope has it, else as an
    /// attachment, else (outside a frame) as base64.
    /// </summary>
    private static void WriteBytes(Utf8JsonWriter writer, ReadOnlyMemory<byte> value)
    {
        if (_threadWritingShared is { } shared && value.Length >= shared.Threshold)
        {
            long offset = shared.Stage(value);
            writer.WriteStartObject();
            writer.WritePropertyName("$shm"u8);
            writer.WriteStartArray();
            writer.WriteNumberValue(SharedMemoryArena.CallSlot);
            writer.WriteNumberValue(offset);
            writer.WriteNumberValue(value.Length);
            writer.WriteEndArray();
            writer.WriteEndObject();
        }
        else if (_threadWriting is { } attachments)
        {
            attachments.Add(value);
            writer.WriteStartObject();
            writer.WriteNumber("$bytes"u8, attachments.Count - 1);
            writer.WriteEndObject();
        }
        else
        {
            writer.WriteBase64StringValue(value.Span);
        }
    }

    /// <summary><c>ReadOnlyMemory&lt;byte&gt;</c> travels as <c>byte[]</c> does (System.Text.Json's own would write base64).</summary>
    private sealed class ReadOnlyMemoryConverter : JsonConverter<ReadOnlyMemory<byte>>
    {
        public override bool HandleNull => true;

        public override ReadOnlyMemory<byte> Read(ref Utf8JsonReader reader, Type typeToConvert, JsonSerializerOptions options)
            => ReadBytes(ref reader);

        public override void Write(Utf8JsonWriter writer, ReadOnlyMemory<byte> value, JsonSerializerOptions options)
            => WriteBytes(writer, value);
    }

    private sealed class BytesConverter : JsonConverter<byte[]>
    {
        public override byte[]? Read(ref Utf8JsonReader reader, Type typeToConvert, JsonSerializerOptions options)
            => ReadBytes(ref reader);

        public override void Write(Utf8JsonWriter writer, byte[] value, JsonSerializerOptions options)
            => WriteBytes(writer, value);
    }

    /// <summary>
    /// Refuses tasks, wherever they appear in a value. System.Text.Json would write a task's properties, and reading
    /// <c>Result</c> blocks until the task completes: a caller passing a task that never completes would hang in its
    /// own call, holding a worker, and no token could end it.
    /// </summary>
    private sealed class TaskRefusingConverterFactory : JsonConverterFactory
    {
        public override bool CanConvert(Type typeToConvert)
            => typeof(Task).IsAssignableFrom(typeToConvert)
                || typeToConvert == typeof(ValueTask)
                || (typeToConvert.IsGenericType && typeToConvert.GetGenericTypeDefinition() == typeof(ValueTask<>));

        public override JsonConverter? CreateConverter(Type typeToConvert, JsonSerializerOptions options)
            => throw new NotSupportedException(
                $"A {(typeToConvert.IsGenericType ? typeToConvert.Name[..typeToConvert.Name.IndexOf('`', StringComparison.Ordinal)] : typeToConvert.Name)} "
                    + "cannot cross the wire: await it and pass its result.");
    }

    private sealed class BigIntegerConverter : JsonConverter<BigInteger>
    {
        /// <summary>
        /// The largest exponent accepted (a double's range ends at 308). A few bytes such as <c>1e999999999</c> would
        /// otherwise ask for a number of 400 MB, computed for minutes, far beyond the frame that carried them.
        /// </summary>
        private const int MaxExponent = 1000;

        public override BigInteger Read(ref Utf8JsonReader reader, Type typeToConvert, JsonSerializerOptions options)
        {
            if (reader.TokenType == JsonTokenType.Number)
            {
                var raw = reader.HasValueSequence ? System.Buffers.BuffersExtensions.ToArray(reader.ValueSequence) : reader.ValueSpan.ToArray();
                var text = System.Text.Encoding.ASCII.GetString(raw);
                int e = text.AsSpan().IndexOfAny('e', 'E');
                if (e >= 0 && !(int.TryParse(text.AsSpan(e + 1), NumberStyles.AllowLeadingSign, CultureInfo.InvariantCulture, out int exponent) && exponent <= MaxExponent))
                {
                    throw new JsonException($"The number {Shorten(text)} has an exponent beyond {MaxExponent}, too large for a BigInteger.");
                }

                return BigInteger.TryParse(text, NumberStyles.Integer | NumberStyles.AllowExponent, CultureInfo.InvariantCulture, out var value)
                    ? value
                    : throw new JsonException($"The number {Shorten(text)} is not an integer.");
            }

            if (reader.TokenType == JsonTokenType.String)
            {
                var text = reader.GetString()!;
                return BigInteger.TryParse(text, CultureInfo.InvariantCulture, out var value)
                    ? value
                    : throw new JsonException($"The string \"{Shorten(text)}\" is not an integer.");
            }

            throw new JsonException($"Expected an integer, found {reader.TokenType}.");
        }

        public override void Write(Utf8JsonWriter writer, BigInteger value, JsonSerializerOptions options)
            => writer.WriteRawValue(value.ToString(CultureInfo.InvariantCulture), skipInputValidation: true);

        private static string Shorten(string text) => text.Length <= 40 ? text : text[..40] + "…";
    }
}
