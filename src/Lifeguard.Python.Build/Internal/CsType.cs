namespace Lifeguard.Python.Build.Internal;

/// <summary>What a C# type is, for defaults and null checks.</summary>
internal enum CsKind
{
    Json,
    String,
    Long,
    Double,
    Bool,
    Bytes,
    DateTime,
    List,
    Dictionary,
    Tuple,
    Record,
}

/// <summary>A C# type of the bindings, written with global:: names so no type of the project can shadow it. Immutable.</summary>
/// <param name="Code">The type as C# code: <c>global::System.Collections.Generic.IReadOnlyList&lt;string&gt;</c>.</param>
/// <param name="Kind">What it is.</param>
/// <param name="IsValueType">Whether it is a struct (its <c>?</c> is <see cref="Nullable{T}"/>).</param>
/// <param name="IsNullable">Whether it ends in <c>?</c>.</param>
internal sealed record CsType(string Code, CsKind Kind, bool IsValueType, bool IsNullable = false)
{
    public static readonly CsType Json = new("global::System.Text.Json.JsonElement", CsKind.Json, IsValueType: true);
    public static readonly CsType String = new("string", CsKind.String, IsValueType: false);
    public static readonly CsType Long = new("long", CsKind.Long, IsValueType: true);
    public static readonly CsType Double = new("double", CsKind.Double, IsValueType: true);
    public static readonly CsType Bool = new("bool", CsKind.Bool, IsValueType: true);
    public static readonly CsType Bytes = new("byte[]", CsKind.Bytes, IsValueType: false);
    public static readonly CsType DateTime = new("global::System.DateTimeOffset", CsKind.DateTime, IsValueType: true);

    public CsType AsNullable() => IsNullable ? this : this with { Code = Code + "?", IsNullable = true };

    public CsType AsNonNullable() => IsNullable ? this with { Code = Code[..^1], IsNullable = false } : this;

    public static CsType List(CsType item) => new($"global::System.Collections.Generic.IReadOnlyList<{item.Code}>", CsKind.List, IsValueType: false);

    public static CsType Dictionary(CsType value)
        => new($"global::System.Collections.Generic.IReadOnlyDictionary<string, {value.Code}>", CsKind.Dictionary, IsValueType: false);

    /// <summary>A value tuple: <c>(string, long)</c>, or <c>ValueTuple&lt;string&gt;</c> for one item.</summary>
    public static CsType Tuple(IReadOnlyList<CsType> items) => new(
        items.Count == 1 ? $"global::System.ValueTuple<{items[0].Code}>" : "(" + string.Join(", ", items.Select(i => i.Code)) + ")",
        CsKind.Tuple,
        IsValueType: true);

    public static CsType Record(string code) => new(code, CsKind.Record, IsValueType: false);

    /// <summary>Whether <see langword="null"/> from Python would break the type's promise: a non-nullable reference type.</summary>
    public bool RejectsNull => !IsValueType && !IsNullable;
}
