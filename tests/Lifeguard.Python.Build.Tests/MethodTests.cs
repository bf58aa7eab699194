using Lifeguard.Python.Build.Internal;

namespace Lifeguard.Python.Build.Tests;

public sealed class MethodTests
{
    [Fact]
    public void Each_public_function_is_a_method_named_in_PascalCase_with_Async_and_private_ones_are_not()
    {
        var plan = Generator.Plan("""
            def analyze(text: str) -> int: ...
            def top_words(text: str) -> List[str]: ...
            async def fetch_async(url: str) -> bytes: ...
            def _helper() -> None: ...
            def __dunder__() -> None: ...
            class NotAFunction: ...
            """);

        Assert.Equal(["AnalyzeAsync", "TopWordsAsync", "FetchAsync"], plan.Methods.Select(m => m.Name));
        Assert.Empty(plan.Diagnostics);
    }

    [Fact]
    public void A_function_defined_twice_is_its_last_definition_and_overloads_are_not_methods()
    {
        var plan = Generator.Plan("""
            def f(x: int) -> int: ...
            def f(x: str) -> str: ...

            @typing.overload
            def g(x: int) -> int: ...
            @typing.overload
            def g(x: str) -> str: ...
            def g(x: Union[int, str]) -> Union[int, str]: ...
            """);

        Assert.Equal("string", Assert.Single(plan.Method("f").Parameters).Type.Code);
        Assert.Single(plan.Methods, m => m.Function.Name == "g");
    }

    [Fact]
    public void Functions_whose_csharp_names_clash_get_a_number_with_a_warning_at_the_later_one()
    {
        var plan = Generator.Plan("""
            def analyze(text: str) -> int: ...
            def analyze_(text: str) -> int: ...
            def analyze_async(text: str) -> int: ...
            """);

        Assert.Equal(["AnalyzeAsync", "Analyze2Async", "Analyze3Async"], plan.Methods.Select(m => m.Name));
        Assert.Equal(2, plan.Diagnostics.Count);
        Assert.All(plan.Diagnostics, d => Assert.Equal(BindingDiagnostic.NameClash, d.Code));
        Assert.Equal(Generator.Imports.Split('\n').Length + 1, plan.Diagnostics[0].Line);
        Assert.Contains("analyze_: its C# name AnalyzeAsync is taken", plan.Diagnostics[0].Message, StringComparison.Ordinal);
    }

    [Theory]
    [InlineData("def f(text: str) -> Iterator[str]:\n    return iter(text.split())\n", "string")]
    [InlineData("def f(n: int) -> Generator[int, None, None]:\n    yield n\n", "long")]
    [InlineData("def f(n: int) -> typing.Iterable[float]:\n    yield n\n", "double")]
    [InlineData("async def f(n: int) -> AsyncIterator[str]:\n    yield str(n)\n", "string")]
    [InlineData("def f(n: int) -> collections.abc.Iterator[bytes]:\n    yield b''\n", "byte[]")]
    [InlineData("def f(n):\n    yield n\n", "global::System.Text.Json.JsonElement")]
    [InlineData("async def f(n):\n    yield n\n", "global::System.Text.Json.JsonElement")]
    [InlineData("def f(n):\n    yield from range(n)\n", "global::System.Text.Json.JsonElement")]
    public void A_generator_by_its_return_hint_or_its_own_yield_is_a_stream_of_its_items(string source, string item)
    {
        var plan = Generator.Plan(source);

        var f = plan.Method("f");
        Assert.True(f.IsStream);
        Assert.Equal(item, f.Result!.Code);
        Assert.Equal("FAsync", f.Name);
        Assert.Empty(plan.Diagnostics);
    }

    [Theory]
    [InlineData("def f(n: int) -> List[int]:\n    def inner():\n        yield n\n    return list(inner())\n")]
    [InlineData("def f(n: int) -> List[int]:\n    g = lambda: (yield)\n    return [n]\n")]
    [InlineData("def f(n: int) -> List[int]:\n    class Inner:\n        def items(self):\n            yield n\n    return [n]\n")]
    [InlineData("def f(n: int) -> List[int]:\n    return [x for x in range(n)]\n")]
    public void A_yield_in_a_nested_function_lambda_or_class_does_not_make_a_generator(string source)
    {
        var f = Generator.Plan(source).Method("f");

        Assert.False(f.IsStream);
        Assert.Equal("IReadOnlyList<long>", Generator.Shorten(f.Result!.Code));
    }

    [Fact]
    public void A_function_that_yields_under_a_hint_that_is_no_iterator_streams_JsonElement_with_a_warning()
    {
        var plan = Generator.Plan("def f(n: int) -> List[int]:\n    yield n\n");

        var f = plan.Method("f");
        Assert.True(f.IsStream);
        Assert.Equal(CsKind.Json, f.Result!.Kind);
        Assert.Equal(BindingDiagnostic.UnmappedHint, Assert.Single(plan.Diagnostics).Code);
    }
}
