using System.Buffers;
using System.Text;
using System.Text.Json;
using System.Text.Json.Serialization;
using System.Text.Unicode;

namespace Lifeguard.Cli;

/// <summary>
/// A JSON value as the input file had it, checked once and then sent to the worker as those very bytes: no parsed
/// document (whose index of tokens costs more than the text for a long array), no re-serialisation. Immutable.
/// </summary>
[JsonConverter(typeof(RawJsonConverter))]
internal sealed class RawJson
{
    private RawJson(byte[] utf8) => Bytes = utf8;

    public byte[] Bytes { get; }

    /// <summary>The value if <paramref name="utf8"/> is exactly one JSON value in valid UTF-8.</summary>
    /// <exception cref="JsonException">It is not; the exception's <see cref="JsonException.BytePositionInLine"/> says where.</exception>
    public static RawJson Parse(byte[] utf8)
    {
        if (!Utf8.IsValid(utf8))
        {
            int at = 0;
            while (Rune.DecodeFromUtf8(utf8.AsSpan(at), out _, out int consumed) == OperationStatus.Done)
            {
                at += consumed;
            }

            throw new JsonException("the line is not valid UTF-8.", path: null, lineNumber: 0, bytePositionInLine: at);
        }

        var reader = new Utf8JsonReader(utf8, new JsonReaderOptions { MaxDepth = 1000 });
        while (reader.Read())
        {
            // Every token is checked; nothing is kept.
        }

        return new RawJson(utf8);
    }

    private sealed class RawJsonConverter : JsonConverter<RawJson>
    {
        public override RawJson Read(ref Utf8JsonReader reader, Type typeToConvert, JsonSerializerOptions options)
            => throw new NotSupportedException("RawJson is only written.");

        public override void Write(Utf8JsonWriter writer, RawJson value, JsonSerializerOptions options)
            => writer.WriteRawValue(value.Bytes, skipInputValidation: true);
    }
}
