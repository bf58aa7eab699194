namespace Lifeguard.Python.Build.Internal;

// What the C# of one module will say, planned before a line is written: names taken, types mapped, defaults and
// argument passing decided. The emitter only prints it. Immutable once planned.

/// <summary>A module's bindings: the interface, the class, the records they use, and what was said about them.</summary>
internal sealed record ModulePlan(
    string? Namespace,
    string InterfaceName,
    string ClassName,
    string ModuleName,
    string ModuleFolder,
    string SourceName,
    string? Doc,
    IReadOnlyList<MethodPlan> Methods,
    IReadOnlyList<RecordPlan> Records,
    IReadOnlyList<BindingDiagnostic> Diagnostics);

/// <summary>One method: a call (<see cref="Result"/> <see langword="null"/> for a Python <c>None</c>) or a stream of items.</summary>
internal sealed record MethodPlan(string Name, PyFunction Function, bool IsStream, CsType? Result, IReadOnlyList<ParameterPlan> Parameters);

/// <summary>How an argument reaches Python.</summary>
internal enum ArgumentPassing
{
    /// <summary>In the positional list, always.</summary>
    Positional,

    /// <summary>
    /// Positional-only after one that may be left out: added to the positional list when given, and only when every
    /// positional parameter before it was.
    /// </summary>
    TrailingPositional,

    /// <summary>As a keyword argument.</summary>
    Keyword,
}

/// <summary>
/// One parameter: its C# name, type and default (C# code), how it is passed, and whether <see langword="null"/>
/// means "not passed" (<see cref="LeftOutWhenNull"/>), so that Python's own default applies.
/// </summary>
internal sealed record ParameterPlan(
    string Name,
    PyParameter Source,
    CsType Type,
    string? DefaultCode,
    ArgumentPassing Passing,
    bool LeftOutWhenNull);

/// <summary>A <c>public sealed record</c> for a dataclass, NamedTuple or TypedDict of the module.</summary>
internal sealed record RecordPlan(string Name, PyClass Source, PyClassKind Kind, IReadOnlyList<PropertyPlan> Properties);

/// <summary>
/// One positional member of a record: its C# name, Python's (its JSON name), its type and default, and whether a
/// <see langword="null"/> is left out of the JSON written (a key a TypedDict may lack, a field with a default).
/// </summary>
internal sealed record PropertyPlan(string Name, PyField Source, CsType Type, string? DefaultCode, bool OmitWhenNull);
