namespace Lifeguard.Python.Build.Internal;

// What lifeguard_bindings.py reads from one module, as it writes it (see that script): the public functions, every
// top-level class, and annotations as trees whose names are resolved through the module's imports. Immutable.

/// <summary>One module: its functions and classes, or why Python could not parse it.</summary>
internal sealed record PyModule(
    string File,
    string? Doc,
    IReadOnlyList<PyFunction> Functions,
    IReadOnlyDictionary<string, PyClass> Classes,
    PyError? Error);

/// <summary>A syntax error (or an unreadable file), with Python's own message and position when it has one.</summary>
internal sealed record PyError(string Type, string Message, int Line, int Column, int EndLine, int EndColumn);

/// <summary>A public top-level <c>def</c> or <c>async def</c>; <see cref="Yields"/> when its own body yields.</summary>
internal sealed record PyFunction(
    string Name,
    int Line,
    int Column,
    bool IsAsync,
    bool Yields,
    string? Doc,
    PyType? Returns,
    IReadOnlyList<PyParameter> Parameters);

/// <summary>How a parameter is passed, as <c>inspect.Parameter.kind</c> says.</summary>
internal enum PyParameterKind
{
    PositionalOnly,
    Positional,
    VarPositional,
    KeywordOnly,
    VarKeyword,
}

/// <summary>A parameter: its hint (none when unannotated) and its default (none when it has none).</summary>
internal sealed record PyParameter(string Name, PyParameterKind Kind, int Line, int Column, PyType? Type, PyDefault? Default);

/// <summary>
/// A default value: a literal C# can write (<see cref="LiteralType"/> none, bool, int, float or str, with the value
/// as text), or an expression known only by its <see cref="Text"/>.
/// </summary>
internal sealed record PyDefault(bool IsLiteral, string? LiteralType, string? Value, string Text);

/// <summary>What a class is, for the bindings: a record kind, or any other class.</summary>
internal enum PyClassKind
{
    Class,
    Dataclass,
    NamedTuple,
    TypedDict,
}

/// <summary>A top-level class: its kind, the module's own classes it derives from, and its annotated fields.</summary>
internal sealed record PyClass(
    string Name,
    PyClassKind Kind,
    IReadOnlyList<string> Bases,
    bool Total,
    int Line,
    int Column,
    string? Doc,
    IReadOnlyList<PyField> Fields);

/// <summary>An annotated field of a class body, its default, and the string just below it as its documentation.</summary>
internal sealed record PyField(string Name, int Line, int Column, PyType Type, PyDefault? Default, string? Doc);

/// <summary>
/// An annotation. <see cref="Kind"/> is one of: <c>name</c> (<see cref="Qualified"/>: <c>builtins.int</c>,
/// <c>typing.List</c>, <c>numpy.ndarray</c>, or a bare unbound name), <c>class</c> (one of the module's classes,
/// <see cref="Name"/>), <c>functional</c> (a <c>namedtuple(...)</c> or <c>TypedDict(...)</c> assignment), <c>sub</c>
/// (<see cref="Base"/>[<see cref="Args"/>]), <c>union</c> (<c>A | B</c>), <c>list</c> (<c>[A, B]</c>, as in
/// <c>Callable</c>), <c>none</c>, <c>ellipsis</c>, <c>const</c> (a <c>Literal</c>'s value, <see cref="Constant"/>) and
/// <c>expr</c> (anything else). <see cref="Text"/> is the annotation as written.
/// </summary>
internal sealed record PyType(
    string Kind,
    string Text,
    string? Qualified = null,
    string? Name = null,
    PyType? Base = null,
    IReadOnlyList<PyType>? Args = null,
    PyConstant? Constant = null)
{
    public IReadOnlyList<PyType> Arguments => Args ?? [];
}

/// <summary>A constant inside an annotation: a <c>Literal</c>'s string, int (as text), bool or None.</summary>
internal sealed record PyConstant(string Type, string? Value);
