using System.Globalization;
using System.Text.Json;

namespace Lifeguard.Python.Build.Internal;

/// <summary>The output of lifeguard_bindings.py: the interpreter's version and each module read. Immutable.</summary>
/// <param name="PythonVersion">The version of the python3 that read the modules.</param>
/// <param name="Error">Why nothing was read (an interpreter too old), or <see langword="null"/>.</param>
/// <param name="Modules">The modules, in the order they were given.</param>
internal sealed record PyReading(string PythonVersion, string? Error, IReadOnlyList<PyModule> Modules)
{
    /// <summary>Reads the script's JSON document; throws <see cref="JsonException"/> when it is not one.</summary>
    public static PyReading Parse(string json)
    {
        using var document = JsonDocument.Parse(json);
        var root = document.RootElement;
        var modules = root.TryGetProperty("modules", out var list) ? [.. list.EnumerateArray().Select(Module)] : new List<PyModule>();
        return new PyReading(String(root, "python") ?? "?", String(root, "error"), modules);
    }

    private static PyModule Module(JsonElement json)
    {
        var file = String(json, "file") ?? "";
        if (json.TryGetProperty("error", out var error))
        {
            return new PyModule(file, null, [], new Dictionary<string, PyClass>(StringComparer.Ordinal), new PyError(
                String(error, "type") ?? "Error",
                String(error, "message") ?? "",
                Int(error, "line"),
                Int(error, "column"),
                Int(error, "endLine"),
                Int(error, "endColumn")));
        }

        var classes = new Dictionary<string, PyClass>(StringComparer.Ordinal);
        foreach (var entry in json.GetProperty("classes").EnumerateObject())
        {
            classes[entry.Name] = Class(entry.Value);
        }

        return new PyModule(file, String(json, "doc"), [.. json.GetProperty("functions").EnumerateArray().Select(Function)], classes, null);
    }

    private static PyFunction Function(JsonElement json) => new(
        String(json, "name")!,
        Int(json, "line"),
        Int(json, "column"),
        Bool(json, "async"),
        Bool(json, "yields"),
        String(json, "doc"),
        Type(json, "returns"),
        [.. json.GetProperty("parameters").EnumerateArray().Select(Parameter)]);

    private static PyParameter Parameter(JsonElement json) => new(
        String(json, "name")!,
        String(json, "kind") switch
        {
            "positional_only" => PyParameterKind.PositionalOnly,
            "var_positional" => PyParameterKind.VarPositional,
            "keyword_only" => PyParameterKind.KeywordOnly,
            "var_keyword" => PyParameterKind.VarKeyword,
            _ => PyParameterKind.Positional,
        },
        Int(json, "line"),
        Int(json, "column"),
        Type(json, "type"),
        Default(json, "default"));

    private static PyClass Class(JsonElement json) => new(
        String(json, "name")!,
        String(json, "kind") switch
        {
            "dataclass" => PyClassKind.Dataclass,
            "namedtuple" => PyClassKind.NamedTuple,
            "typeddict" => PyClassKind.TypedDict,
            _ => PyClassKind.Class,
        },
        [.. json.GetProperty("bases").EnumerateArray().Select(b => b.GetString()!)],
        !json.TryGetProperty("total", out var total) || total.ValueKind != JsonValueKind.False,
        Int(json, "line"),
        Int(json, "column"),
        String(json, "doc"),
        [.. json.GetProperty("fields").EnumerateArray().Select(Field)]);

    private static PyField Field(JsonElement json) => new(
        String(json, "name")!,
        Int(json, "line"),
        Int(json, "column"),
        Type(json, "type")!,
        Default(json, "default"),
        String(json, "doc"));

    private static PyDefault? Default(JsonElement json, string name)
    {
        if (!json.TryGetProperty(name, out var value) || value.ValueKind != JsonValueKind.Object)
        {
            return null;
        }

        var literal = Bool(value, "literal");
        string? text = null;
        if (value.TryGetProperty("value", out var v))
        {
            text = v.ValueKind switch
            {
                JsonValueKind.True => "True",
                JsonValueKind.False => "False",
                JsonValueKind.String => v.GetString(),
                _ => v.GetRawText(),
            };
        }

        return new PyDefault(literal, String(value, "type"), text, String(value, "text") ?? "?");
    }

    private static PyType? Type(JsonElement json, string name)
        => json.TryGetProperty(name, out var value) && value.ValueKind == JsonValueKind.Object ? Type(value) : null;

    private static PyType Type(JsonElement json) => new(
        String(json, "k") ?? "expr",
        String(json, "t") ?? "?",
        String(json, "q"),
        String(json, "name"),
        Type(json, "base"),
        json.TryGetProperty("args", out var args) ? [.. args.EnumerateArray().Select(Type)] : null,
        json.TryGetProperty("v", out var constant) ? Constant(constant) : null);

    private static PyConstant Constant(JsonElement json) => json.ValueKind switch
    {
        JsonValueKind.String => new PyConstant("str", json.GetString()),
        JsonValueKind.True => new PyConstant("bool", "True"),
        JsonValueKind.False => new PyConstant("bool", "False"),
        JsonValueKind.Null => new PyConstant("none", null),
        JsonValueKind.Object when json.TryGetProperty("int", out var i) => new PyConstant("int", i.GetString()),
        _ => new PyConstant("other", json.GetRawText()),
    };

    private static string? String(JsonElement json, string name)
        => json.TryGetProperty(name, out var value) && value.ValueKind == JsonValueKind.String ? value.GetString() : null;

    private static int Int(JsonElement json, string name)
        => json.TryGetProperty(name, out var value) && value.TryGetInt32(out var i) ? i : 0;

    private static bool Bool(JsonElement json, string name)
        => json.TryGetProperty(name, out var value) && value.ValueKind == JsonValueKind.True;

    /// <summary>Parses a Python int as written by the script, when it fits a <see cref="long"/>.</summary>
    public static bool TryParseInt(string? text, out long value)
        => long.TryParse(text, NumberStyles.AllowLeadingSign, CultureInfo.InvariantCulture, out value);
}
