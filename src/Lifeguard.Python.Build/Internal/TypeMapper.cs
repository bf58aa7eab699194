namespace Lifeguard.Python.Build.Internal;

/// <summary>Where a hint is, for the warnings about it: <c>analyze's parameter 'text'</c> at a line and column.</summary>
internal readonly record struct HintSite(string What, int Line, int Column);

/// <summary>
/// Python type hints as C# types, by the table in docs/python.md ("Generated bindings"): <c>typing.X</c> and PEP 604
/// spellings alike, aliases already expanded by the reader. A hint with no C# type becomes <see cref="CsType.Json"/>
/// with a warning naming where it is. Records are asked of <see cref="RecordPlanner"/>. Not thread-safe.
/// </summary>
internal sealed class TypeMapper(RecordPlanner records, List<BindingDiagnostic> diagnostics)
{
    private static readonly HashSet<string> Lists = Names(
        "builtins.list", "typing.List", "typing.Sequence", "collections.abc.Sequence", "typing.MutableSequence",
        "collections.abc.MutableSequence", "typing.Iterable", "collections.abc.Iterable", "typing.Collection",
        "collections.abc.Collection");

    private static readonly HashSet<string> Dictionaries = Names(
        "builtins.dict", "typing.Dict", "typing.Mapping", "collections.abc.Mapping", "typing.MutableMapping",
        "collections.abc.MutableMapping", "typing.OrderedDict", "collections.OrderedDict", "typing.DefaultDict",
        "collections.defaultdict");

    private static readonly HashSet<string> Iterators = Names(
        "typing.Iterator", "collections.abc.Iterator", "typing.Iterable", "collections.abc.Iterable",
        "typing.Generator", "collections.abc.Generator", "typing.AsyncIterator", "collections.abc.AsyncIterator",
        "typing.AsyncIterable", "collections.abc.AsyncIterable", "typing.AsyncGenerator", "collections.abc.AsyncGenerator");

    private static readonly HashSet<string> Anything = Names("typing.Any", "builtins.object");

    private static readonly HashSet<string> NoReturn = Names("typing.NoReturn", "typing.Never");

    /// <summary>Where a name comes from is not part of its meaning for these: <c>typing_extensions.List</c> is <c>typing.List</c>.</summary>
    private static string Canonical(string qualified)
        => qualified.StartsWith("typing_extensions.", StringComparison.Ordinal) ? "typing." + qualified["typing_extensions.".Length..] : qualified;

    /// <summary>The item hint of a generator's return hint (<c>Iterator[T]</c>: T), or <see langword="null"/> when it is no iterator.</summary>
    public static bool IsIterator(PyType? hint, out PyType? item)
    {
        item = null;
        var name = hint switch
        {
            { Kind: "name" } => hint.Qualified,
            { Kind: "sub", Base.Kind: "name" } => hint.Base.Qualified,
            _ => null,
        };
        if (name is null || !Iterators.Contains(Canonical(name)))
        {
            return false;
        }

        item = hint!.Arguments.Count > 0 ? hint.Arguments[0] : null;
        return true;
    }

    /// <summary>Whether a return hint says the function returns nothing: <c>None</c>, <c>NoReturn</c>.</summary>
    public static bool IsNone(PyType? hint) => hint is { Kind: "none" } || (hint is { Kind: "name", Qualified: { } q } && NoReturn.Contains(Canonical(q)));

    /// <summary>The C# type of a hint; <see cref="CsType.Json"/> for none (unannotated) and for <c>Any</c>, without a warning.</summary>
    public CsType Map(PyType? hint, HintSite site) => hint is null ? CsType.Json : Map(hint, site, hint);

    private CsType Map(PyType hint, HintSite site, PyType whole)
    {
        switch (hint.Kind)
        {
            case "name":
                return Named(hint, site, whole);
            case "class":
                return records.Record(hint.Name!) ?? Unmapped(
                    BindingDiagnostic.NotARecord, site, whole, $"class {hint.Name} is not a dataclass, NamedTuple or TypedDict");
            case "functional":
                return Unmapped(BindingDiagnostic.NotARecord, site, whole,
                    $"{hint.Name} is made by the functional form of {hint.Qualified}; written as a class it would be a record");
            case "sub":
                return Subscripted(hint, site, whole);
            case "union":
                return Union(hint.Arguments, site, whole);
            default:
                return Unmapped(BindingDiagnostic.UnmappedHint, site, whole, null);
        }
    }

    private CsType Named(PyType hint, HintSite site, PyType whole)
    {
        var name = Canonical(hint.Qualified ?? "");
        switch (name)
        {
            case "builtins.str":
                return CsType.String;
            case "builtins.int":
                return CsType.Long;
            case "builtins.float":
                return CsType.Double;
            case "builtins.bool":
                return CsType.Bool;
            case "builtins.bytes" or "builtins.bytearray" or "builtins.memoryview":
                return CsType.Bytes;
            case "datetime.datetime":
                return CsType.DateTime;
            case "builtins.tuple" or "typing.Tuple":
                return CsType.List(CsType.Json);
        }

        if (Anything.Contains(name))
        {
            return CsType.Json;
        }

        if (Lists.Contains(name))
        {
            return CsType.List(CsType.Json);
        }

        if (Dictionaries.Contains(name))
        {
            return CsType.Dictionary(CsType.Json);
        }

        if (!name.Contains('.', StringComparison.Ordinal))
        {
            return Unmapped(BindingDiagnostic.UnmappedHint, site, whole, $"'{name}' is not defined or imported in the module");
        }

        var known = name.StartsWith("builtins.", StringComparison.Ordinal) || name.StartsWith("typing.", StringComparison.Ordinal)
            || name.StartsWith("collections.", StringComparison.Ordinal) || name.StartsWith("datetime.", StringComparison.Ordinal)
            || name.StartsWith('.');
        return known
            ? Unmapped(BindingDiagnostic.UnmappedHint, site, whole, null)
            : Unmapped(BindingDiagnostic.ImportedType, site, whole, $"{name} is imported from another module");
    }

    private CsType Subscripted(PyType hint, HintSite site, PyType whole)
    {
        var args = hint.Arguments;
        var name = hint.Base is { Kind: "name", Qualified: { } q } ? Canonical(q) : "";
        switch (name)
        {
            case "typing.Optional" when args.Count == 1:
                return Map(args[0], site, whole).AsNullable();
            case "typing.Union":
                return Union(args, site, whole);
            case "typing.Annotated" or "typing.Required" or "typing.NotRequired" or "typing.ReadOnly" when args.Count >= 1:
                return Map(args[0], site, whole);
            case "typing.Literal":
                return Literal(args, site, whole);
            case "builtins.tuple" or "typing.Tuple":
                return Tuple(args, site, whole);
        }

        if (Lists.Contains(name) && args.Count == 1)
        {
            return CsType.List(Map(args[0], site, whole));
        }

        if (Dictionaries.Contains(name) && args.Count == 2)
        {
            return args[0] is { Kind: "name", Qualified: { } key } && Canonical(key) == "builtins.str"
                ? CsType.Dictionary(Map(args[1], site, whole))
                : Unmapped(BindingDiagnostic.UnmappedHint, site, whole, "JSON object keys are strings: only dict[str, T] has a C# type");
        }

        // A generic class of the module (Box[int]): the class, whose type parameters have no C# type of their own.
        return hint.Base is { Kind: "class" } generic
            ? Map(generic, site, whole)
            : Unmapped(BindingDiagnostic.UnmappedHint, site, whole, null);
    }

    private CsType Tuple(IReadOnlyList<PyType> args, HintSite site, PyType whole)
    {
        if (args.Count == 2 && args[1].Kind == "ellipsis")
        {
            return CsType.List(Map(args[0], site, whole));
        }

        if (args.Count == 0 || args.Any(a => a.Kind == "ellipsis") || (args.Count == 1 && args[0].Text == "()"))
        {
            return Unmapped(BindingDiagnostic.UnmappedHint, site, whole, "an empty tuple has no C# type");
        }

        return CsType.Tuple([.. args.Select(a => Map(a, site, whole))]);
    }

    private CsType Literal(IReadOnlyList<PyType> args, HintSite site, PyType whole)
    {
        var types = args.Select(a => a.Constant?.Type ?? "other").ToHashSet(StringComparer.Ordinal);
        var nullable = types.Remove("none");
        CsType? type = types.Count == 1 ? types.Single() switch
        {
            "str" => CsType.String,
            "int" => CsType.Long,
            "bool" => CsType.Bool,
            _ => null,
        } : null;
        if (type is null)
        {
            return Unmapped(BindingDiagnostic.UnmappedHint, site, whole, "a Literal of values of several types has no C# type");
        }

        return nullable ? type.AsNullable() : type;
    }

    private CsType Union(IReadOnlyList<PyType> args, HintSite site, PyType whole)
    {
        var members = Flatten(args).ToList();
        var nullable = members.RemoveAll(m => m.Kind == "none") > 0;
        if (members.Count == 0)
        {
            return Unmapped(BindingDiagnostic.UnmappedHint, site, whole, null);
        }

        // Each member is mapped on its own first: a union of one C# type (int | float is a double) has that type and
        // its members' warnings; one of several has none of them and is JSON, with one warning for the whole.
        var scratch = new List<BindingDiagnostic>();
        var mapper = new TypeMapper(records, scratch);
        var types = members.Select(m => mapper.Map(m, site, whole)).ToList();
        nullable |= types.Any(t => t.IsNullable);
        types = [.. types.Select(t => t.AsNonNullable())];
        var codes = types.Select(t => t.Code).Distinct(StringComparer.Ordinal).ToList();
        CsType? type = codes.Count == 1 ? types[0]
            : codes.Count == 2 && types.All(t => t.Kind is CsKind.Long or CsKind.Double) ? CsType.Double
            : null;
        if (type is null)
        {
            return Unmapped(BindingDiagnostic.UnmappedHint, site, whole, "a Union of several types has no C# type");
        }

        diagnostics.AddRange(scratch);
        return nullable ? type.AsNullable() : type;
    }

    private static IEnumerable<PyType> Flatten(IEnumerable<PyType> members)
    {
        foreach (var member in members)
        {
            var nested = member.Kind == "union"
                || (member is { Kind: "sub", Base: { Kind: "name", Qualified: { } q } } && Canonical(q) is "typing.Union" or "typing.Optional");
            foreach (var inner in nested ? Flatten(member.Arguments) : [member])
            {
                yield return inner;
            }

            if (member is { Kind: "sub", Base: { Kind: "name", Qualified: { } optional } } && Canonical(optional) == "typing.Optional")
            {
                yield return new PyType("none", "None");
            }
        }
    }

    private CsType Unmapped(string code, HintSite site, PyType whole, string? why)
    {
        diagnostics.Add(BindingDiagnostic.Warning(
            code,
            $"{site.What}: the hint '{whole.Text}' has no C# type{(why is null ? "" : $" ({why})")}; it is read and written as JsonElement",
            site.Line,
            site.Column));
        return CsType.Json;
    }

    private static HashSet<string> Names(params string[] names) => new(names, StringComparer.Ordinal);
}
