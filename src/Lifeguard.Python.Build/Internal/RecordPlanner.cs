namespace Lifeguard.Python.Build.Internal;

/// <summary>
/// Plans a record for each dataclass, NamedTuple and TypedDict of the module that a signature uses, and for each
/// record those records' fields use, once each (a record may refer to itself). A class deriving from one of the
/// module's record classes is one too, with its bases' fields first. Not thread-safe.
/// </summary>
internal sealed class RecordPlanner
{
    /// <summary>The members every record has already; a field named like one gets a number.</summary>
    private static readonly string[] RecordMembers =
        ["EqualityContract", "Equals", "GetHashCode", "ToString", "GetType", "Deconstruct", "PrintMembers", "MemberwiseClone", "Finalize"];

    private readonly IReadOnlyDictionary<string, PyClass> _classes;
    private readonly string? _namespace;
    private readonly NameScope _typeNames;
    private readonly List<BindingDiagnostic> _diagnostics;
    private readonly Dictionary<string, (string Name, CsType Type)> _planned = new(StringComparer.Ordinal);
    private readonly List<RecordPlan> _records = [];

    public RecordPlanner(IReadOnlyDictionary<string, PyClass> classes, string? @namespace, NameScope typeNames, List<BindingDiagnostic> diagnostics)
    {
        _classes = classes;
        _namespace = @namespace;
        _typeNames = typeNames;
        _diagnostics = diagnostics;
    }

    /// <summary>The records planned so far, in the order they were first used.</summary>
    public IReadOnlyList<RecordPlan> Records => _records;

    /// <summary>The record type for the module's class <paramref name="python"/>, or <see langword="null"/> when it is no record kind.</summary>
    public CsType? Record(string python)
    {
        if (_planned.TryGetValue(python, out var planned))
        {
            return planned.Type;
        }

        if (!_classes.TryGetValue(python, out var source) || KindOf(source, []) is not { } kind)
        {
            return null;
        }

        var name = _typeNames.Take(CSharpNames.Pascal(python), numbered => _diagnostics.Add(BindingDiagnostic.Warning(
            BindingDiagnostic.NameClash,
            $"class {python}: its C# name {CSharpNames.Pascal(python)} is taken in the bindings of the module; the record is {numbered}",
            source.Line,
            source.Column)));
        var type = CsType.Record(_namespace is null ? "global::" + name : $"global::{_namespace}.{name}");

        // Registered before its fields are mapped, so a field of its own type (a tree's children) finds it.
        _planned[python] = (name, type);
        var index = _records.Count;
        var properties = Properties(source, name, kind);
        _records.Insert(index, new RecordPlan(name, source, kind, properties));
        return type;
    }

    /// <summary>The record kind of a class, its own or the first of its bases that has one.</summary>
    private PyClassKind? KindOf(PyClass source, HashSet<string> seen)
    {
        if (source.Kind != PyClassKind.Class)
        {
            return source.Kind;
        }

        if (!seen.Add(source.Name))
        {
            return null;
        }

        foreach (var baseName in source.Bases)
        {
            if (_classes.TryGetValue(baseName, out var baseClass) && KindOf(baseClass, seen) is { } kind)
            {
                return kind;
            }
        }

        return null;
    }

    /// <summary>Every field, the bases' first; a field declared again keeps its place and takes the later declaration, as dataclasses do.</summary>
    private List<(PyField Field, bool Total)> Fields(PyClass source, HashSet<string> seen)
    {
        var fields = new List<(PyField Field, bool Total)>();
        if (!seen.Add(source.Name))
        {
            return fields;
        }

        foreach (var baseName in source.Bases)
        {
            if (_classes.TryGetValue(baseName, out var baseClass))
            {
                foreach (var inherited in Fields(baseClass, seen))
                {
                    Put(fields, inherited);
                }
            }
        }

        foreach (var field in source.Fields)
        {
            Put(fields, (field, source.Total));
        }

        return fields;
    }

    private static void Put(List<(PyField Field, bool Total)> fields, (PyField Field, bool Total) field)
    {
        var at = fields.FindIndex(f => string.Equals(f.Field.Name, field.Field.Name, StringComparison.Ordinal));
        if (at < 0)
        {
            fields.Add(field);
        }
        else
        {
            fields[at] = field;
        }
    }

    private List<PropertyPlan> Properties(PyClass source, string recordName, PyClassKind kind)
    {
        var names = new NameScope([recordName, .. RecordMembers]);
        var mapper = new TypeMapper(this, _diagnostics);
        var properties = new List<PropertyPlan>();
        foreach (var (field, total) in Fields(source, new HashSet<string>(StringComparer.Ordinal)))
        {
            var site = new HintSite($"{source.Name}.{field.Name}", field.Line, field.Column);
            var type = mapper.Map(field.Type, site);
            var name = names.Take(CSharpNames.Pascal(field.Name), numbered => _diagnostics.Add(BindingDiagnostic.Warning(
                BindingDiagnostic.NameClash,
                $"{site.What}: its C# name {CSharpNames.Pascal(field.Name)} is taken in record {recordName}; the property is {numbered}",
                field.Line,
                field.Column)));
            properties.Add(kind == PyClassKind.TypedDict ? Key(name, field, type, total) : Member(name, field, type));
        }

        // C# wants the members with defaults last; JSON and Python's keyword construction do not mind the order.
        return [.. properties.Where(p => p.DefaultCode is null), .. properties.Where(p => p.DefaultCode is not null)];
    }

    /// <summary>A TypedDict key: required unless the class is <c>total=False</c> or the hint says <c>NotRequired</c>.</summary>
    private static PropertyPlan Key(string name, PyField field, CsType type, bool total)
    {
        var wrapper = field.Type is { Kind: "sub", Base: { Kind: "name", Qualified: { } q } } ? q : "";
        var required = wrapper.EndsWith(".Required", StringComparison.Ordinal) || (total && !wrapper.EndsWith(".NotRequired", StringComparison.Ordinal));
        return required
            ? new PropertyPlan(name, field, type, null, OmitWhenNull: false)
            : new PropertyPlan(name, field, type.AsNullable(), "null", OmitWhenNull: true);
    }

    /// <summary>A dataclass or NamedTuple field: a literal default is the C# default; any other is <see langword="null"/>, left out so Python's applies.</summary>
    private static PropertyPlan Member(string name, PyField field, CsType type)
    {
        if (field.Default is null)
        {
            return new PropertyPlan(name, field, type, null, OmitWhenNull: false);
        }

        var literal = CSharpLiterals.Default(field.Default, type);
        return literal is null or "null"
            ? new PropertyPlan(name, field, type.AsNullable(), "null", OmitWhenNull: true)
            : new PropertyPlan(name, field, type, literal, OmitWhenNull: false);
    }
}
