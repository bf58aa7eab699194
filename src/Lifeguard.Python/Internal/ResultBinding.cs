using System.Globalization;
using System.Reflection;
using System.Text;
using System.Text.Encodings.Web;
using System.Text.Json;
using System.Text.Json.Serialization.Metadata;

namespace Lifeguard.Python;

/// <summary>
/// Explains a result System.Text.Json refused to bind: the .NET type and member it could not fill, and the keys the
/// Python value had where it gave up, which its own message leaves out (a key spelt another way is the usual cause).
/// Runs only on that failure. The reply is read again with a forward-only reader, never built into a document, so
/// the explanation costs no memory in proportion to the reply. Stateless and thread-safe.
/// </summary>
internal static class ResultBinding
{
    /// <summary>The most keys (and members) a message lists; the rest are counted.</summary>
    public const int MaxListed = 20;

    /// <summary>Keys come from Python and may be long: each is cut to this many characters.</summary>
    private const int MaxKeyLength = 64;

    /// <summary>
    /// What went wrong, for the message of the <see cref="PythonSerializationException"/>: the missing, null or
    /// mistyped member at <see cref="JsonException.Path"/> and the keys of the object holding it; else
    /// System.Text.Json's message, with the keys when the path ends at or just inside an object.
    /// </summary>
    public static string Explain(ReadOnlySpan<byte> json, JsonTypeInfo? resultType, JsonException error)
    {
        try
        {
            return Find(json, resultType, error) ?? error.Message;
        }
        catch (Exception e) when (e is JsonException or InvalidOperationException or NotSupportedException or ArgumentException)
        {
            // The explanation is a courtesy: whatever stops it, the caller still gets System.Text.Json's own message.
            return error.Message;
        }
    }

    /// <summary>The name of a type as C# writes it: <c>List&lt;Stats&gt;</c>, not <c>List`1</c>.</summary>
    public static string TypeName(Type type)
    {
        if (Nullable.GetUnderlyingType(type) is { } underlying)
        {
            return TypeName(underlying) + "?";
        }

        if (type.IsArray)
        {
            return TypeName(type.GetElementType()!) + "[]";
        }

        if (!type.IsGenericType)
        {
            return type.Name;
        }

        if (type.IsValueType && type.Namespace == "System" && type.Name.StartsWith("ValueTuple`", StringComparison.Ordinal))
        {
            return "(" + string.Join(", ", type.GetGenericArguments().Select(TypeName)) + ")";
        }

        int tick = type.Name.IndexOf('`', StringComparison.Ordinal);
        return (tick < 0 ? type.Name : type.Name[..tick]) + "<" + string.Join(", ", type.GetGenericArguments().Select(TypeName)) + ">";
    }

    private static string? Find(ReadOnlySpan<byte> json, JsonTypeInfo? resultType, JsonException error)
    {
        if (error.Path is not { } path || ParsePath(path) is not { } segments)
        {
            return null;
        }

        // The .NET type at each step of the path, as far as it can be known.
        var types = new JsonTypeInfo?[segments.Count + 1];
        types[0] = resultType;
        for (int i = 0; i < segments.Count; i++)
        {
            types[i + 1] = ChildType(types[i], segments[i]);
        }

        var options = new JsonReaderOptions { MaxDepth = resultType is { Options.MaxDepth: > 0 } ? resultType.Options.MaxDepth : 64 };
        if (!TryNavigate(json, options, segments, segments.Count, out var reader))
        {
            return null;
        }

        // A missing member is reported at its object's path.
        var type = types[^1];
        var token = reader.TokenType;
        ObjectKeys? keys = null;
        if (token == JsonTokenType.StartObject)
        {
            keys = ObjectKeys.Read(ref reader, IsObjectType(type) ? type : null);
            if (keys.Missing.Count > 0)
            {
                var missing = keys.Missing;
                return $"{Members(type!, missing)} {(missing.Count == 1 ? "is" : "are")} missing from the object at {path}, and {TypeName(type!.Type)} "
                    + "requires " + (missing.Count == 1 ? "it" : "them") + " (a constructor parameter with no default value, or a required member). "
                    + keys.Describe(path);
            }
        }

        // A null, or a value of the wrong type, at the member's own path.
        var parentType = segments.Count > 0 ? types[^2] : null;
        string parentPath = segments.Count > 1 ? path[..segments[^2].End] : "$";
        if (segments.Count > 0 && segments[^1].Name is { } key && IsObjectType(parentType) && FindProperty(parentType!, key) is { } property
            && TryNavigate(json, options, segments, segments.Count - 1, out var parentReader) && parentReader.TokenType == JsonTokenType.StartObject)
        {
            var parentKeys = ObjectKeys.Read(ref parentReader, null).Describe(parentPath);
            if (token == JsonTokenType.Null && !AcceptsNull(property))
            {
                return $"{Members(parentType!, [property])} is null at {path}, but it is not nullable. {parentKeys}";
            }

            // System.Text.Json's message names the type holding the member, not the member.
            return $"{Members(parentType!, [property])}, of type {TypeName(property.PropertyType)}, could not be read from the "
                + $"{Kind(token)} at {path} ({error.Message.TrimEnd().TrimEnd('.')}). {parentKeys}";
        }

        return keys is not null ? $"{error.Message.TrimEnd()} {keys.Describe(path)}" : null;
    }

    /// <summary>
    /// A reader on the first token of the value at the first <paramref name="count"/> steps of the path, or
    /// <see langword="false"/> if the reply has no such value.
    /// </summary>
    private static bool TryNavigate(ReadOnlySpan<byte> json, JsonReaderOptions options, List<Segment> segments, int count, out Utf8JsonReader reader)
    {
        reader = new Utf8JsonReader(json, options);
        if (!reader.Read())
        {
            return false;
        }

        for (int s = 0; s < count; s++)
        {
            var segment = segments[s];
            if (segment.Name is { } name)
            {
                if (reader.TokenType != JsonTokenType.StartObject)
                {
                    return false;
                }

                while (true)
                {
                    reader.Read();
                    if (reader.TokenType != JsonTokenType.PropertyName)
                    {
                        return false;
                    }

                    bool match = reader.ValueTextEquals(name);
                    reader.Read();
                    if (match)
                    {
                        break;
                    }

                    reader.Skip();
                }
            }
            else
            {
                if (reader.TokenType != JsonTokenType.StartArray)
                {
                    return false;
                }

                for (int i = 0; ; i++)
                {
                    reader.Read();
                    if (reader.TokenType == JsonTokenType.EndArray)
                    {
                        return false;
                    }

                    if (i == segment.Index)
                    {
                        break;
                    }

                    reader.Skip();
                }
            }
        }

        return true;
    }

    private static string Kind(JsonTokenType token) => token switch
    {
        JsonTokenType.StartObject => "object",
        JsonTokenType.StartArray => "array",
        JsonTokenType.String => "string",
        JsonTokenType.Number => "number",
        JsonTokenType.True or JsonTokenType.False => "boolean",
        _ => "null",
    };

    private static bool IsObjectType(JsonTypeInfo? type) => type is { Kind: JsonTypeInfoKind.Object, PolymorphismOptions: null };

    private static bool AcceptsNull(JsonPropertyInfo property)
    {
        if (property.PropertyType.IsValueType)
        {
            return Nullable.GetUnderlyingType(property.PropertyType) is not null;
        }

        return !property.Options.RespectNullableAnnotations || (property.AssociatedParameter?.IsNullable ?? property.IsSetNullable);
    }

    /// <summary><c>Stats.TopWords ("top_words")</c>, for each, at most <see cref="MaxListed"/>.</summary>
    private static string Members(JsonTypeInfo type, List<JsonPropertyInfo> properties)
    {
        var names = properties.Take(MaxListed).Select(p =>
            $"{TypeName(type.Type)}.{(p.AttributeProvider as MemberInfo)?.Name ?? p.AssociatedParameter?.Name ?? p.Name} ({Quote(p.Name)})").ToList();
        string list = names.Count == 1 ? names[0] : string.Join(", ", names.Take(names.Count - 1)) + " and " + names[^1];
        return properties.Count > names.Count ? list + string.Create(CultureInfo.InvariantCulture, $" ({properties.Count} in all)") : list;
    }

    /// <summary>A key as a JSON string, cut to <see cref="MaxKeyLength"/> characters (never inside a surrogate pair).</summary>
    private static string Quote(string key)
    {
        if (key.Length > MaxKeyLength)
        {
            int cut = char.IsHighSurrogate(key[MaxKeyLength - 1]) ? MaxKeyLength - 1 : MaxKeyLength;
            key = key[..cut] + "…";
        }

        return "\"" + JsonEncodedText.Encode(key, JavaScriptEncoder.UnsafeRelaxedJsonEscaping) + "\"";
    }

    /// <summary>The type of the value one step down the path, or <see langword="null"/> where it cannot be known.</summary>
    private static JsonTypeInfo? ChildType(JsonTypeInfo? type, Segment segment)
    {
        var next = type switch
        {
            null => null,
            { PolymorphismOptions: not null } => null,
            { Kind: JsonTypeInfoKind.Object } when segment.Name is { } name => FindProperty(type, name)?.PropertyType,
            { Kind: JsonTypeInfoKind.Enumerable } when segment.Name is null => type.ElementType,
            { Kind: JsonTypeInfoKind.Dictionary } when segment.Name is not null => type.ElementType,
            _ => null,
        };
        return next is null ? null : type!.Options.GetTypeInfo(Nullable.GetUnderlyingType(next) ?? next);
    }

    private static JsonPropertyInfo? FindProperty(JsonTypeInfo type, string key)
    {
        var comparison = type.Options.PropertyNameCaseInsensitive ? StringComparison.OrdinalIgnoreCase : StringComparison.Ordinal;
        return type.Properties.FirstOrDefault(p => string.Equals(p.Name, key, comparison));
    }

    /// <summary>
    /// The steps of a System.Text.Json path (<c>$.stacks[0]['a key']</c>); <see langword="null"/> for one it cannot
    /// read (System.Text.Json writes no other), which leaves the message as System.Text.Json wrote it.
    /// </summary>
    private static List<Segment>? ParsePath(string path)
    {
        if (path.Length == 0 || path[0] != '$')
        {
            return null;
        }

        var segments = new List<Segment>();
        int i = 1;
        while (i < path.Length)
        {
            if (path[i] == '.')
            {
                int end = path.IndexOfAny(['.', '['], i + 1);
                end = end < 0 ? path.Length : end;
                segments.Add(new Segment(path[(i + 1)..end], 0, end));
                i = end;
            }
            else if (path.AsSpan(i).StartsWith("['", StringComparison.Ordinal))
            {
                int end = path.IndexOf("']", i + 2, StringComparison.Ordinal);
                if (end < 0)
                {
                    return null;
                }

                // A name holding "']" is cut short here; the walk then finds no such key and gives up.
                segments.Add(new Segment(path[(i + 2)..end], 0, end + 2));
                i = end + 2;
            }
            else if (path[i] == '[')
            {
                int end = path.IndexOf(']', i);
                if (end < 0 || !int.TryParse(path.AsSpan(i + 1, end - i - 1), NumberStyles.None, CultureInfo.InvariantCulture, out int index))
                {
                    return null;
                }

                segments.Add(new Segment(null, index, end + 1));
                i = end + 1;
            }
            else
            {
                return null;
            }
        }

        return segments;
    }

    /// <summary>One step of a path: a key, or (when <see cref="Name"/> is null) an index; and where it ends in the path.</summary>
    private readonly record struct Segment(string? Name, int Index, int End);

    /// <summary>What one object of the reply holds: its first keys, how many, and the required members it lacks.</summary>
    private sealed class ObjectKeys
    {
        /// <summary>Keys longer than this (in UTF-8) are not decoded whole: only their start is shown.</summary>
        private const int MaxDecodedBytes = 1024;

        private readonly List<string> _first = [];
        private int _count;

        public List<JsonPropertyInfo> Missing { get; } = [];

        /// <summary>Reads the object the reader is on, to its end; <paramref name="type"/>, if known, for its required members.</summary>
        public static ObjectKeys Read(ref Utf8JsonReader reader, JsonTypeInfo? type)
        {
            var keys = new ObjectKeys();
            var required = type?.Properties.Where(p => p.IsRequired).ToList() ?? [];
            var found = new bool[required.Count];
            bool insensitive = type?.Options.PropertyNameCaseInsensitive ?? false;
            while (reader.Read() && reader.TokenType == JsonTokenType.PropertyName)
            {
                bool whole = !reader.HasValueSequence && reader.ValueSpan.Length <= MaxDecodedBytes;
                string? key = whole && (keys._count < MaxListed || insensitive) ? reader.GetString()
                    : keys._count < MaxListed ? Encoding.UTF8.GetString(reader.ValueSpan[..(4 * MaxKeyLength)])
                    : null;
                if (keys._count < MaxListed)
                {
                    keys._first.Add(key!);
                }

                for (int j = 0; j < required.Count; j++)
                {
                    found[j] |= insensitive
                        ? whole && string.Equals(key, required[j].Name, StringComparison.OrdinalIgnoreCase)
                        : reader.ValueTextEquals(required[j].Name);
                }

                keys._count++;
                reader.Read();
                reader.Skip();
            }

            keys.Missing.AddRange(required.Where((_, j) => !found[j]));
            return keys;
        }

        /// <summary>The keys: at most <see cref="MaxListed"/>, each cut short, counted beyond that.</summary>
        public string Describe(string path)
        {
            string shown = string.Join(", ", _first.Select(Quote));
            return _count switch
            {
                0 => $"The Python object at {path} had no keys.",
                <= MaxListed => $"The Python object at {path} had the keys {shown}.",
                _ => string.Create(CultureInfo.InvariantCulture, $"The Python object at {path} had {_count} keys, the first {MaxListed}: {shown}, …"),
            };
        }
    }
}
