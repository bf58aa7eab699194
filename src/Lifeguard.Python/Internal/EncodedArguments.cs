using System.Collections;
using System.Text.Json;

namespace Lifeguard.Python;

/// <summary>
/// The arguments of a call that a remote caller encoded already, as a call frame holds them: the <c>"a"</c> array's
/// JSON, the <c>"k"</c> object's JSON (or none), and the frame's attachments, which their <c>$bytes</c> references
/// index. The codec writes them into the worker's call frame as they are, so the host never decodes them. As an
/// argument list it is empty: nothing else reads it.
/// </summary>
internal sealed class EncodedArguments : IReadOnlyList<object?>
{
    private EncodedArguments(ReadOnlyMemory<byte> positional, ReadOnlyMemory<byte>? keywords, List<ReadOnlyMemory<byte>> attachments)
    {
        Positional = positional;
        Keywords = keywords;
        Attachments = attachments;
    }

    /// <summary>The <c>"a"</c> array, as JSON.</summary>
    public ReadOnlyMemory<byte> Positional { get; }

    /// <summary>The <c>"k"</c> object, as JSON; <see langword="null"/> for none.</summary>
    public ReadOnlyMemory<byte>? Keywords { get; }

    /// <summary>The attachments, in the order their references number them.</summary>
    public IReadOnlyList<ReadOnlyMemory<byte>> Attachments { get; }

    public int Count => 0;

    public object? this[int index] => throw new ArgumentOutOfRangeException(nameof(index));

    /// <summary>
    /// Reads a remote call's frame: <c>{"m": module, "f": function, "a": [...], "k"?: {...}}</c>, other members
    /// ignored (the host writes its own). The JSON is checked whole; the frame's memory must outlive the arguments.
    /// </summary>
    /// <exception cref="PythonProtocolException">Not that object.</exception>
    public static (string Module, string Function, EncodedArguments Arguments) Read(Frame frame)
    {
        var json = frame.Json;
        string? module = null, function = null;
        ReadOnlyMemory<byte>? positional = null, keywords = null;
        try
        {
            var reader = new Utf8JsonReader(json.Span, new JsonReaderOptions { MaxDepth = 256 });
            if (!reader.Read() || reader.TokenType != JsonTokenType.StartObject)
            {
                throw new JsonException("the call is not a JSON object");
            }

            while (reader.Read() && reader.TokenType == JsonTokenType.PropertyName)
            {
                string name = reader.GetString()!;
                if (!reader.Read())
                {
                    throw new JsonException("the call ends inside a member");
                }

                long start = reader.TokenStartIndex;
                switch (name)
                {
                    case "m" when reader.TokenType == JsonTokenType.String:
                        module = reader.GetString();
                        break;
                    case "f" when reader.TokenType == JsonTokenType.String:
                        function = reader.GetString();
                        break;
                    case "a" when reader.TokenType == JsonTokenType.StartArray:
                        reader.Skip();
                        positional = json[(int)start..(int)reader.BytesConsumed];
                        break;
                    case "k" when reader.TokenType == JsonTokenType.StartObject:
                        reader.Skip();
                        keywords = json[(int)start..(int)reader.BytesConsumed];
                        break;
                    case "m" or "f" or "a" or "k":
                        throw new JsonException($"\"{name}\" has the wrong type ({reader.TokenType})");
                    default:
                        reader.Skip();
                        break;
                }
            }

            if (reader.TokenType != JsonTokenType.EndObject || reader.Read())
            {
                throw new JsonException("the call is not one JSON object");
            }
        }
        catch (JsonException e)
        {
            throw new PythonProtocolException($"The call is not {{\"m\": module, \"f\": function, \"a\": [...], \"k\"?: {{...}}}}: {e.Message}", e);
        }
        catch (InvalidOperationException e)
        {
            throw new PythonProtocolException($"The call is not well-formed JSON: {e.Message}", e);
        }

        if (string.IsNullOrEmpty(module) || string.IsNullOrEmpty(function) || positional is null)
        {
            throw new PythonProtocolException("The call lacks its \"m\" (module), \"f\" (function) or \"a\" (arguments), or one is empty.");
        }

        var attachments = new List<ReadOnlyMemory<byte>>();
        for (var rest = frame.Attachments; !rest.IsEmpty;)
        {
            int size = (int)System.Buffers.Binary.BinaryPrimitives.ReadUInt32BigEndian(rest.Span);
            attachments.Add(rest.Slice(4, size));
            rest = rest[(4 + size)..];
        }

        return (module, function, new EncodedArguments(positional.Value, keywords, attachments));
    }

    public IEnumerator<object?> GetEnumerator()
    {
        yield break;
    }

    IEnumerator IEnumerable.GetEnumerator() => GetEnumerator();
}
