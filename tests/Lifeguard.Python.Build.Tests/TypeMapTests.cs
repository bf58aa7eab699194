using Lifeguard.Python.Build.Internal;

namespace Lifeguard.Python.Build.Tests;

public sealed class TypeMapTests
{
    [Theory]
    [InlineData("str", "string")]
    [InlineData("int", "long")]
    [InlineData("float", "double")]
    [InlineData("bool", "bool")]
    [InlineData("bytes", "byte[]")]
    [InlineData("List[str]", "IReadOnlyList<string>")]
    [InlineData("list[int]", "IReadOnlyList<long>")]
    [InlineData("Sequence[float]", "IReadOnlyList<double>")]
    [InlineData("typing.List[str]", "IReadOnlyList<string>")]
    [InlineData("collections.abc.Sequence[bytes]", "IReadOnlyList<byte[]>")]
    [InlineData("Dict[str, int]", "IReadOnlyDictionary<string, long>")]
    [InlineData("dict[str, List[str]]", "IReadOnlyDictionary<string, IReadOnlyList<string>>")]
    [InlineData("Mapping[str, float]", "IReadOnlyDictionary<string, double>")]
    [InlineData("tuple[str, int]", "(string, long)")]
    [InlineData("Tuple[int, float, str]", "(long, double, string)")]
    [InlineData("Tuple[int]", "ValueTuple<long>")]
    [InlineData("tuple[int, ...]", "IReadOnlyList<long>")]
    [InlineData("Optional[int]", "long?")]
    [InlineData("int | None", "long?")]
    [InlineData("None | str", "string?")]
    [InlineData("Union[str, None]", "string?")]
    [InlineData("Optional[List[Optional[str]]]", "IReadOnlyList<string?>?")]
    [InlineData("Literal['a', 'b']", "string")]
    [InlineData("Literal[1, 2]", "long")]
    [InlineData("Literal['a', None]", "string?")]
    [InlineData("datetime", "DateTimeOffset")]
    [InlineData("dt.datetime", "DateTimeOffset")]
    [InlineData("int | float", "double")]
    [InlineData("'List[str]'", "IReadOnlyList<string>")]
    [InlineData("Any", "JsonElement")]
    [InlineData("object", "JsonElement")]
    [InlineData("list", "IReadOnlyList<JsonElement>")]
    [InlineData("Dict[str, Any]", "IReadOnlyDictionary<string, JsonElement>")]
    [InlineData("typing.Annotated[int, 'units']", "long")]
    public void A_hint_maps_to_its_csharp_type_without_a_warning(string hint, string expected)
    {
        var (type, warnings) = Generator.MapParameter(hint);

        Assert.Equal(expected, Generator.Shorten(type));
        Assert.Empty(warnings);
    }

    [Theory]
    [InlineData("set[int]", BindingDiagnostic.UnmappedHint)]
    [InlineData("Union[int, str]", BindingDiagnostic.UnmappedHint)]
    [InlineData("Dict[int, str]", BindingDiagnostic.UnmappedHint)]
    [InlineData("typing.Callable[[int], int]", BindingDiagnostic.UnmappedHint)]
    [InlineData("Literal['a', 1]", BindingDiagnostic.UnmappedHint)]
    [InlineData("Undefined", BindingDiagnostic.UnmappedHint)]
    [InlineData("dt.date", BindingDiagnostic.UnmappedHint)]
    [InlineData("collections.abc.Set[int]", BindingDiagnostic.UnmappedHint)]
    [InlineData("typing.Tuple[()]", BindingDiagnostic.UnmappedHint)]
    public void A_hint_without_a_csharp_type_is_JsonElement_with_a_warning_naming_the_function_and_the_hint(string hint, string code)
    {
        var (type, warnings) = Generator.MapParameter(hint);

        Assert.Equal("global::System.Text.Json.JsonElement", type);
        var warning = Assert.Single(warnings);
        Assert.Equal(code, warning.Code);
        Assert.False(warning.IsError);
        Assert.Contains("f's parameter 'x'", warning.Message, StringComparison.Ordinal);
        Assert.Contains($"'{hint}'", warning.Message, StringComparison.Ordinal);
        Assert.Equal(Generator.Imports.Split('\n').Length, warning.Line);
    }

    [Fact]
    public void A_type_imported_from_another_module_is_JsonElement_with_its_own_warning_and_its_import_need_not_resolve()
    {
        var plan = Generator.Plan("""
            import numpy as np
            from no_such_package.models import Model

            def score(model: Model, data: np.ndarray) -> float: ...
            """);

        var score = plan.Method("score");
        Assert.All(score.Parameters, p => Assert.Equal(CsKind.Json, p.Type.Kind));
        Assert.Equal("double", score.Result!.Code);
        Assert.Equal([BindingDiagnostic.ImportedType, BindingDiagnostic.ImportedType], plan.Diagnostics.Select(d => d.Code));
        Assert.Contains("no_such_package.models.Model is imported from another module", plan.Diagnostics[0].Message, StringComparison.Ordinal);
        Assert.Contains("numpy.ndarray", plan.Diagnostics[1].Message, StringComparison.Ordinal);
    }

    [Fact]
    public void Unannotated_parameters_and_results_are_JsonElement_without_a_warning()
    {
        var plan = Generator.Plan("def f(x, y=1):\n    return x\n");

        var f = plan.Method("f");
        Assert.Equal("global::System.Text.Json.JsonElement", f.Parameter("x").Type.Code);
        Assert.Equal("global::System.Text.Json.JsonElement?", f.Parameter("y").Type.Code);
        Assert.Equal("global::System.Text.Json.JsonElement", f.Result!.Code);
        Assert.Empty(plan.Diagnostics);
    }

    [Fact]
    public void Future_annotations_string_hints_and_aliases_read_like_any_others()
    {
        var plan = Generator.Plan("""
            from __future__ import annotations
            from typing import List, NewType, Optional

            Words = List[str]
            UserId = NewType("UserId", int)

            def f(a: Words, b: "Optional[UserId]", c: 'dict[str, "Words"]') -> "Words | None": ...
            """, withImports: false);

        var f = plan.Method("f");
        Assert.Equal("IReadOnlyList<string>", Generator.Shorten(f.Parameter("a").Type.Code));
        Assert.Equal("long?", f.Parameter("b").Type.Code);
        Assert.Equal("IReadOnlyDictionary<string, IReadOnlyList<string>>", Generator.Shorten(f.Parameter("c").Type.Code));
        Assert.Equal("IReadOnlyList<string>?", Generator.Shorten(f.Result!.Code));
        Assert.Empty(plan.Diagnostics);
    }

    [Fact]
    public void A_None_return_is_a_Task_and_a_return_hint_of_a_type_is_a_Task_of_it()
    {
        var plan = Generator.Plan("""
            def log(line: str) -> None: ...
            async def fetch(url: str) -> bytes: ...
            def stop() -> typing.NoReturn: ...
            """);

        Assert.Null(plan.Method("log").Result);
        Assert.Null(plan.Method("stop").Result);
        var fetch = plan.Method("fetch");
        Assert.False(fetch.IsStream);
        Assert.Equal("byte[]", fetch.Result!.Code);
    }
}
