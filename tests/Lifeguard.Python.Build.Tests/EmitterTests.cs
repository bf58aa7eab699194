using System.Reflection;
using System.Text.Json;
using Lifeguard.Python.Build.Internal;

namespace Lifeguard.Python.Build.Tests;

public sealed class EmitterTests
{
    /// <summary>A module docstring, then something of every kind the emitter writes.</summary>
    private const string Everything = """
        '''Text statistics: counts & <b>tags</b>.

        A second paragraph, with a "quote".'''

        """ + Generator.Imports + """
        @dataclass
        class Stats:
            '''What analyze counts.'''
            unique_words: int
            "How many distinct words."
            top_words: List[str]
            extra: Optional["Stats"] = None

        class Options(TypedDict, total=False):
            mode: Literal["fast", "slow"]
            limits: Dict[str, float]

        class Task(NamedTuple):
            '''A record named like a framework type.'''
            name: str

        def analyze(text: str, top: int = 5, *, options: Options = None, words: List[str] = []) -> Stats:
            '''Counts the words of <text> & more.

            Ends with */ and a backslash \\.'''

        def pairs(a: tuple[str, int], b: bytes = b"", c: int = 3, /) -> Tuple[str, int]: ...
        def tokens(text: str) -> Iterator[str]: ...
        def numbers(n: int) -> Iterator[Optional[int]]: ...
        async def later(when: datetime, task: Task) -> None: ...
        def maybe(x: Optional[Stats] = None) -> Optional[Stats]: ...
        def untyped(x, y=None):
            return x
        def events(event: str, params: int, object: float = 1e-05) -> Dict[str, Any]: ...
        """;

    [Fact]
    public void The_code_for_every_kind_of_signature_compiles_without_a_warning()
    {
        var code = CSharpEmitter.Emit(Generator.Plan(Everything, withImports: false));

        var (diagnostics, assembly) = Compiler.Compile(code);

        Assert.True(diagnostics.IsEmpty, Compiler.Describe(diagnostics) + "\n" + code);
        Assert.NotNull(assembly);
    }

    [Fact]
    public void That_compilation_would_see_an_undocumented_member_or_a_nullable_mistake()
    {
        // A .g.cs file is generated code, whose nullable context is off unless it says otherwise, as the emitter's does.
        var (diagnostics, _) = Compiler.Compile("#nullable enable\npublic sealed class Undocumented { public string Name { get; } = null; }");

        Assert.True(diagnostics.Any(d => d.Id == "CS1591"), Compiler.Describe(diagnostics));
        Assert.True(diagnostics.Any(d => d.Id == "CS8625"), Compiler.Describe(diagnostics));
    }

    [Fact]
    public void The_generated_types_have_the_settled_shape()
    {
        var (_, assembly) = Compiler.Compile(CSharpEmitter.Emit(Generator.Plan(Everything, withImports: false)));

        var contract = assembly!.GetType("Generated.ITextStats", throwOnError: true)!;
        var implementation = assembly.GetType("Generated.TextStats", throwOnError: true)!;
        Assert.True(contract.IsInterface && contract.IsPublic);
        Assert.True(implementation.IsSealed && implementation.IsPublic && contract.IsAssignableFrom(implementation));
        Assert.Equal(typeof(IPythonCaller), Assert.Single(Assert.Single(implementation.GetConstructors()).GetParameters()).ParameterType);
        Assert.Equal("text_stats", implementation.GetField("ModuleName")!.GetRawConstantValue());
        Assert.Equal(Path.Combine(AppContext.BaseDirectory, "python"), implementation.GetProperty("ModulePath", BindingFlags.Public | BindingFlags.Static)!.GetValue(null));

        var analyze = contract.GetMethod("AnalyzeAsync")!;
        Assert.Equal(["text", "top", "options2", "words", "options", "cancellationToken"], analyze.GetParameters().Select(p => p.Name));
        Assert.Equal(5L, analyze.GetParameters()[1].DefaultValue);
        Assert.Equal(typeof(Task<>).MakeGenericType(assembly.GetType("Generated.Stats")!), analyze.ReturnType);
        Assert.Equal(typeof(PythonCallOptions), analyze.GetParameters()[4].ParameterType);
        Assert.Equal(typeof(CancellationToken), analyze.GetParameters()[5].ParameterType);

        Assert.Equal(typeof(IAsyncEnumerable<string>), contract.GetMethod("TokensAsync")!.ReturnType);
        Assert.Equal(typeof(Task<(string, long)>), contract.GetMethod("PairsAsync")!.ReturnType);
        Assert.Equal(typeof(Task), contract.GetMethod("LaterAsync")!.ReturnType);
        Assert.Equal(typeof(DateTimeOffset), contract.GetMethod("LaterAsync")!.GetParameters()[0].ParameterType);
        Assert.Equal(typeof(Task<JsonElement>), contract.GetMethod("UntypedAsync")!.ReturnType);
        Assert.Equal(["event", "params", "object"], contract.GetMethod("EventsAsync")!.GetParameters().Take(3).Select(p => p.Name));
    }

    [Fact]
    public void Records_are_sealed_and_name_their_JSON_members_as_Python_does()
    {
        var (_, assembly) = Compiler.Compile(CSharpEmitter.Emit(Generator.Plan(Everything, withImports: false)));
        var stats = assembly!.GetType("Generated.Stats", throwOnError: true)!;

        Assert.True(stats.IsSealed);
        var json = JsonSerializer.Serialize(Activator.CreateInstance(stats, 3L, new[] { "a" }, null), new JsonSerializerOptions { PropertyNamingPolicy = JsonNamingPolicy.CamelCase });

        Assert.Equal("""{"unique_words":3,"top_words":["a"]}""", json);
        var back = JsonSerializer.Deserialize("""{"unique_words":2,"top_words":[],"extra":{"unique_words":1,"top_words":["x"]}}""", stats)!;
        Assert.Equal(2L, stats.GetProperty("UniqueWords")!.GetValue(back));
        Assert.NotNull(stats.GetProperty("Extra")!.GetValue(back));
    }

    [Fact]
    public void Docstrings_are_the_XML_documentation_escaped()
    {
        var code = CSharpEmitter.Emit(Generator.Plan(Everything, withImports: false));

        Assert.Contains("/// Text statistics: counts &amp; &lt;b&gt;tags&lt;/b&gt;.", code, StringComparison.Ordinal);
        Assert.Contains("/// A second paragraph, with a \"quote\".", code, StringComparison.Ordinal);
        Assert.Contains("/// Counts the words of &lt;text&gt; &amp; more.", code, StringComparison.Ordinal);
        Assert.Contains("/// Ends with */ and a backslash \\.", code, StringComparison.Ordinal);
        Assert.Contains("/// What analyze counts.", code, StringComparison.Ordinal);
        Assert.Contains("How many distinct words.", code, StringComparison.Ordinal);
        Assert.Contains("<c>def analyze(text: str, top: int = 5, *, options: Options = None, words: List[str] = []) -&gt; Stats</c>", code, StringComparison.Ordinal);
    }

    [Fact]
    public void The_global_namespace_and_a_dotted_one_both_compile()
    {
        var plain = CSharpEmitter.Emit(Generator.Plan(Everything, withImports: false, @namespace: null));
        var dotted = CSharpEmitter.Emit(Generator.Plan(Everything, withImports: false, @namespace: "My.App.Bindings"));

        var (diagnostics, assembly) = Compiler.Compile(plain, dotted);

        Assert.True(diagnostics.IsEmpty, Compiler.Describe(diagnostics));
        Assert.NotNull(assembly!.GetType("TextStats"));
        Assert.NotNull(assembly.GetType("My.App.Bindings.TextStats"));
    }
}
