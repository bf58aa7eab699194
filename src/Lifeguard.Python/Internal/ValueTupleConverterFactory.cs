using System.Diagnostics.CodeAnalysis;
using System.Reflection;
using System.Runtime.CompilerServices;
using System.Text.Json;
using System.Text.Json.Serialization;

namespace Lifeguard.Python;

/// <summary>
/// Reads and writes <see cref="ValueTuple"/>s of any arity as JSON arrays, <c>[item1, item2, ...]</c>, as Python's
/// tuples travel; each item goes through the options' own converters (a record in a tuple is an object, a
/// <c>byte[]</c> an attachment). System.Text.Json alone writes a tuple as <c>{}</c>: its items are fields. It makes a
/// converter per tuple type at run time, so it applies where dynamic code is supported; elsewhere (native AOT) tuples
/// are left to the app's own metadata. Stateless and thread-safe, as are the converters it makes.
/// </summary>
internal sealed class ValueTupleConverterFactory : JsonConverterFactory
{
    public override bool CanConvert(Type typeToConvert) => RuntimeFeature.IsDynamicCodeSupported && Layout.IsValueTuple(typeToConvert);

    [UnconditionalSuppressMessage("AOT", "IL3050", Justification = "CanConvert is false unless dynamic code is supported.")]
    public override JsonConverter? CreateConverter(Type typeToConvert, JsonSerializerOptions options)
        => (JsonConverter?)Activator.CreateInstance(typeof(Converter<>).MakeGenericType(typeToConvert), Layout.Of(typeToConvert));

    /// <summary>
    /// A tuple type's items, flattened: <c>ValueTuple&lt;T1, ..., T7, TRest&gt;</c> carries its 8th item onwards in
    /// <c>Rest</c>, itself a tuple, which is how C# builds tuples of more than 7 items. Immutable.
    /// </summary>
    private sealed class Layout
    {
        private const int ItemsBeforeRest = 7;

        private Layout(Type type, FieldInfo[] fields, FieldInfo? restField, Layout? rest)
        {
            Type = type;
            Fields = fields;
            RestField = restField;
            Rest = rest;
            Types = [.. fields.Select(f => f.FieldType), .. rest?.Types ?? []];
        }

        /// <summary>The items' types, in order, <c>Rest</c>'s included.</summary>
        public Type[] Types { get; }

        private Type Type { get; }

        private FieldInfo[] Fields { get; }

        private FieldInfo? RestField { get; }

        private Layout? Rest { get; }

        public static bool IsValueTuple(Type type)
            => type.IsValueType && type.IsGenericType && type.Namespace == "System" && type.Name.StartsWith("ValueTuple`", StringComparison.Ordinal);

        // ValueTuple's fields are public, and a value type's instance fields are never trimmed away (they are its layout).
        [UnconditionalSuppressMessage("Trimming", "IL2070", Justification = "ValueTuple's ItemN and Rest are public instance fields, kept with the type.")]
        public static Layout Of(Type type)
        {
            var arguments = type.GetGenericArguments();
            int own = Math.Min(arguments.Length, ItemsBeforeRest);
            var fields = Enumerable.Range(1, own).Select(i => type.GetField("Item" + i)!).ToArray();
            if (arguments.Length <= ItemsBeforeRest)
            {
                return new Layout(type, fields, null, null);
            }

            var rest = type.GetField("Rest")!;
            return new Layout(type, fields, rest, Of(rest.FieldType));
        }

        /// <summary>A boxed tuple of this type holding <paramref name="items"/> from <paramref name="start"/> on.</summary>
        [UnconditionalSuppressMessage("Trimming", "IL2072", Justification = "A value type always has its default constructor.")]
        public object Build(object?[] items, int start)
        {
            object tuple = Activator.CreateInstance(Type)!;
            for (int i = 0; i < Fields.Length; i++)
            {
                Fields[i].SetValue(tuple, items[start + i]);
            }

            RestField?.SetValue(tuple, Rest!.Build(items, start + Fields.Length));
            return tuple;
        }
    }

    /// <summary>Made for ValueTuple types only (no <c>struct</c> constraint: it would ask the trimmer for a constructor).</summary>
    private sealed class Converter<T>(Layout layout) : JsonConverter<T>
    {
        public override T Read(ref Utf8JsonReader reader, Type typeToConvert, JsonSerializerOptions options)
        {
            var types = layout.Types;
            if (reader.TokenType != JsonTokenType.StartArray)
            {
                throw new JsonException($"Expected a JSON array of {types.Length} items for {Name}, found {Token(reader.TokenType)}.");
            }

            var items = new object?[types.Length];
            for (int i = 0; i < types.Length; i++)
            {
                if (!reader.Read() || reader.TokenType == JsonTokenType.EndArray)
                {
                    throw new JsonException($"Expected a JSON array of {types.Length} items for {Name}, found {i}.");
                }

                items[i] = JsonSerializer.Deserialize(ref reader, options.GetTypeInfo(types[i]));
            }

            if (!reader.Read() || reader.TokenType != JsonTokenType.EndArray)
            {
                throw new JsonException($"Expected a JSON array of {types.Length} items for {Name}, found more.");
            }

            return (T)layout.Build(items, 0);
        }

        public override void Write(Utf8JsonWriter writer, T value, JsonSerializerOptions options)
        {
            // ITuple flattens Rest: item i of a 9-tuple is the Rest's item i - 7.
            var tuple = (ITuple)value!;
            var types = layout.Types;
            writer.WriteStartArray();
            for (int i = 0; i < types.Length; i++)
            {
                JsonSerializer.Serialize(writer, tuple[i], options.GetTypeInfo(types[i]));
            }

            writer.WriteEndArray();
        }

        private static string Name => ResultBinding.TypeName(typeof(T));

        private static string Token(JsonTokenType token) => token switch
        {
            JsonTokenType.StartObject => "an object",
            JsonTokenType.String => "a string",
            JsonTokenType.Number => "a number",
            JsonTokenType.True or JsonTokenType.False => "a boolean",
            JsonTokenType.Null => "null",
            _ => token.ToString(),
        };
    }
}
