namespace Lifeguard.Python.Build.Internal;

/// <summary>
/// A warning or error about one module, at a line and column of its file (0 when it has none). The codes are listed
/// in docs/python.md, "Generated bindings". Immutable.
/// </summary>
internal sealed record BindingDiagnostic(string Code, bool IsError, string Message, int Line = 0, int Column = 0, int EndLine = 0, int EndColumn = 0)
{
    /// <summary>The module cannot be parsed: Python's own syntax error.</summary>
    public const string SyntaxError = "LG1001";

    /// <summary>python3 could not be run, is older than 3.9, or its reading failed.</summary>
    public const string PythonFailed = "LG1002";

    /// <summary>The item's metadata (Module, Namespace, ClassName) is not usable.</summary>
    public const string BadMetadata = "LG1003";

    /// <summary>The generator's own files are missing (the task assembly was not built).</summary>
    public const string GeneratorMissing = "LG1004";

    /// <summary>A hint with no C# type: JsonElement instead.</summary>
    public const string UnmappedHint = "LG1101";

    /// <summary>A type imported from another module: JsonElement instead.</summary>
    public const string ImportedType = "LG1102";

    /// <summary>A class of the module that is not a dataclass, NamedTuple or TypedDict, or a functional namedtuple or TypedDict: JsonElement instead.</summary>
    public const string NotARecord = "LG1103";

    /// <summary>A <c>*args</c> or <c>**kwargs</c> parameter, left out of the C# method.</summary>
    public const string VariadicLeftOut = "LG1104";

    /// <summary>Two names that would be the same in C#: the later one gets a number.</summary>
    public const string NameClash = "LG1105";

    public static BindingDiagnostic Warning(string code, string message, int line, int column) => new(code, false, message, line, column);
}
