using Lifeguard.Python.Build.Internal;

namespace Lifeguard.Python.Build.Tests;

public sealed class ParameterTests
{
    [Theory]
    [InlineData("top: int = 5", "long", "5")]
    [InlineData("top: int = -1", "long", "-1")]
    [InlineData("ratio: float = 0.25", "double", "0.25")]
    [InlineData("ratio: float = 1e-05", "double", "1E-05")]
    [InlineData("ratio: float = 3", "double", "3")]
    [InlineData("ratio: float = 2.0", "double", "2.0")]
    [InlineData("flag: bool = True", "bool", "true")]
    [InlineData("name: str = 'a \"quoted\" \\\\ word\\n'", "string", "\"a \\\"quoted\\\" \\\\ word\\n\"")]
    [InlineData("mode: Literal['fast', 'slow'] = 'fast'", "string", "\"fast\"")]
    [InlineData("name: Optional[str] = None", "string?", "null")]
    [InlineData("count: int = None", "long?", "null")]
    public void A_literal_default_is_the_csharp_default_and_the_argument_is_always_passed(string parameter, string type, string defaultCode)
    {
        var plan = Generator.Plan($"def f({parameter}) -> None: ...\n");

        var p = Assert.Single(plan.Method("f").Parameters);
        Assert.Equal(type, p.Type.Code);
        Assert.Equal(defaultCode, p.DefaultCode);
        Assert.False(p.LeftOutWhenNull);
        Assert.Equal(ArgumentPassing.Positional, p.Passing);
        Assert.Empty(plan.Diagnostics);
    }

    [Theory]
    [InlineData("words: List[str] = []", "IReadOnlyList<string>?")]
    [InlineData("when: datetime = datetime.now()", "DateTimeOffset?")]
    [InlineData("top: int = DEFAULT_TOP", "long?")]
    [InlineData("top: int = 1.5", "long?")]
    [InlineData("top: int = 100000000000000000000000", "long?")]
    [InlineData("ratio: float = float('inf')", "double?")]
    [InlineData("raw: bytes = b''", "byte[]?")]
    public void A_default_csharp_cannot_write_makes_the_parameter_nullable_with_null_meaning_not_passed(string parameter, string type)
    {
        var plan = Generator.Plan($"DEFAULT_TOP = 5\n\ndef f(text: str, {parameter}) -> None: ...\n");

        var f = plan.Method("f");
        var p = f.Parameters[1];
        Assert.Equal(type, Generator.Shorten(p.Type.Code));
        Assert.Equal("null", p.DefaultCode);
        Assert.True(p.LeftOutWhenNull);
        Assert.Equal(ArgumentPassing.Keyword, p.Passing);
        Assert.Equal(ArgumentPassing.Positional, f.Parameter("text").Passing);
    }

    [Fact]
    public void Positional_only_parameters_go_positionally_keyword_only_ones_by_keyword_and_the_star_ones_are_left_out_with_a_warning()
    {
        var plan = Generator.Plan("def f(a: int, /, b: int, *args: int, c: int, d: int = 2, **kwargs: str) -> None: ...\n");

        var f = plan.Method("f");
        Assert.Equal(["a", "b", "c", "d"], f.Parameters.Select(p => p.Name));
        Assert.Equal(
            [ArgumentPassing.Positional, ArgumentPassing.Positional, ArgumentPassing.Keyword, ArgumentPassing.Keyword],
            f.Parameters.Select(p => p.Passing));
        Assert.Equal([BindingDiagnostic.VariadicLeftOut, BindingDiagnostic.VariadicLeftOut], plan.Diagnostics.Select(d => d.Code));
        Assert.Contains("*args", plan.Diagnostics[0].Message, StringComparison.Ordinal);
        Assert.Contains("**kwargs", plan.Diagnostics[1].Message, StringComparison.Ordinal);
        Assert.All(plan.Diagnostics, d => Assert.Equal(Generator.Imports.Split('\n').Length, d.Line));
    }

    [Fact]
    public void A_keyword_only_parameter_without_a_default_after_one_with_a_default_comes_first_in_csharp()
    {
        var plan = Generator.Plan("def f(text: str, top: int = 5, *, language: str, strict: bool = False) -> None: ...\n");

        var f = plan.Method("f");
        Assert.Equal(["text", "language", "top", "strict"], f.Parameters.Select(p => p.Name));
        Assert.Equal([null, null, "5", "false"], f.Parameters.Select(p => p.DefaultCode));
    }

    [Fact]
    public void After_a_positional_parameter_that_may_be_left_out_the_later_ones_go_by_keyword_or_positionally_only_with_it()
    {
        var plan = Generator.Plan("""
            def regular(a: int, b: List[int] = [], c: int = 3) -> None: ...
            def positional_only(a: int, b: List[int] = [], c: int = 3, /) -> None: ...
            """);

        var regular = plan.Method("regular");
        Assert.Equal([ArgumentPassing.Positional, ArgumentPassing.Keyword, ArgumentPassing.Keyword], regular.Parameters.Select(p => p.Passing));
        Assert.Equal("3", regular.Parameter("c").DefaultCode);
        Assert.False(regular.Parameter("c").LeftOutWhenNull);

        // c cannot be passed positionally without b: its default is then Python's, and null leaves it out.
        var positionalOnly = plan.Method("positional_only");
        Assert.Equal(
            [ArgumentPassing.Positional, ArgumentPassing.TrailingPositional, ArgumentPassing.TrailingPositional],
            positionalOnly.Parameters.Select(p => p.Passing));
        Assert.Equal("long?", positionalOnly.Parameter("c").Type.Code);
        Assert.True(positionalOnly.Parameter("c").LeftOutWhenNull);
    }

    [Fact]
    public void Csharp_keywords_are_escaped_and_snake_case_parameters_are_camel_case()
    {
        var plan = Generator.Plan("def f(event: str, params: int, top_words: int, _private: int, default: bool = True) -> None: ...\n");

        Assert.Equal(["@event", "@params", "topWords", "@private", "@default"], plan.Method("f").Parameters.Select(p => p.Name));
        Assert.Empty(plan.Diagnostics);
    }

    [Fact]
    public void A_parameter_named_like_options_or_cancellationToken_or_like_another_in_csharp_gets_a_number_with_a_warning()
    {
        var plan = Generator.Plan("def f(options: int, top_words: int, topWords: int, cancellation_token: int) -> None: ...\n");

        Assert.Equal(["options2", "topWords", "topWords2", "cancellationToken2"], plan.Method("f").Parameters.Select(p => p.Name));
        Assert.Equal(3, plan.Diagnostics.Count);
        Assert.All(plan.Diagnostics, d => Assert.Equal(BindingDiagnostic.NameClash, d.Code));
        Assert.Contains("the parameter is topWords2", plan.Diagnostics[1].Message, StringComparison.Ordinal);
    }
}
