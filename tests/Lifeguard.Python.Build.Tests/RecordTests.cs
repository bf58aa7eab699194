using Lifeguard.Python.Build.Internal;

namespace Lifeguard.Python.Build.Tests;

public sealed class RecordTests
{
    [Fact]
    public void A_dataclass_in_a_signature_is_a_record_with_PascalCase_members_named_in_JSON_as_in_Python()
    {
        var plan = Generator.Plan("""
            @dataclass(frozen=True)
            class Stats:
                unique_words: int
                top_words: List[str]
                ratio: float = 0.5
                tags: List[str] = field(default_factory=list)
                label: str = field(default="none")
                note: Optional[str] = None
                shared: typing.ClassVar[int] = 3

            def analyze(text: str) -> Stats: ...
            """);

        var stats = plan.Record("Stats");
        Assert.Equal(PyClassKind.Dataclass, stats.Kind);
        Assert.Equal("Stats", stats.Name);
        Assert.Equal(["UniqueWords", "TopWords", "Ratio", "Tags", "Label", "Note"], stats.Properties.Select(p => p.Name));
        Assert.Equal([null, null, "0.5", "null", "\"none\"", "null"], stats.Properties.Select(p => p.DefaultCode));
        Assert.Equal([false, false, false, true, false, true], stats.Properties.Select(p => p.OmitWhenNull));
        Assert.Equal("IReadOnlyList<string>?", Generator.Shorten(stats.Property("tags").Type.Code));
        Assert.Equal("global::Generated.Stats", plan.Method("analyze").Result!.Code);
        Assert.Empty(plan.Diagnostics);
    }

    [Fact]
    public void A_NamedTuple_is_a_record_and_a_record_used_by_a_record_is_generated_too_once()
    {
        var plan = Generator.Plan("""
            class Point(NamedTuple):
                x: float
                y: float = 0.0

            class Segment(NamedTuple):
                start: Point
                end: Point

            class Unused(NamedTuple):
                z: int

            def length(segment: Segment) -> float: ...
            def midpoint(segment: Segment) -> Point: ...
            """);

        Assert.Equal(["Segment", "Point"], plan.Records.Select(r => r.Name));
        Assert.Equal(PyClassKind.NamedTuple, plan.Record("Point").Kind);
        Assert.Equal("global::Generated.Point", plan.Record("Segment").Property("start").Type.Code);
        Assert.Equal("0.0", plan.Record("Point").Property("y").DefaultCode);
    }

    [Fact]
    public void A_TypedDict_with_total_False_has_nullable_members_left_out_of_the_JSON_when_null()
    {
        var plan = Generator.Plan("""
            class Required_(TypedDict):
                id: str

            class Options(Required_, total=False):
                capacity: float
                tags: List[str]
                must: typing.Required[int]

            class Mixed(TypedDict):
                name: str
                maybe: "typing.NotRequired[int]"

            def plan(options: Options, mixed: Mixed) -> None: ...
            """);

        var options = plan.Record("Options");
        Assert.Equal(PyClassKind.TypedDict, options.Kind);
        Assert.Equal(["Id", "Must", "Capacity", "Tags"], options.Properties.Select(p => p.Name));
        Assert.Equal(["string", "long", "double?", "IReadOnlyList<string>?"], options.Properties.Select(p => Generator.Shorten(p.Type.Code)));
        Assert.Equal([false, false, true, true], options.Properties.Select(p => p.OmitWhenNull));
        var mixed = plan.Record("Mixed");
        Assert.Equal(["string", "long?"], mixed.Properties.Select(p => p.Type.Code));
        Assert.True(mixed.Property("maybe").OmitWhenNull);
    }

    [Fact]
    public void A_record_may_refer_to_itself()
    {
        var plan = Generator.Plan("""
            @dataclass
            class Node:
                name: str
                children: List["Node"]
                parent: Optional["Node"] = None

            def tree() -> Node: ...
            """);

        var node = Assert.Single(plan.Records);
        Assert.Equal("IReadOnlyList<Node>", Generator.Shorten(node.Property("children").Type.Code));
        Assert.Equal("Node?", Generator.Shorten(node.Property("parent").Type.Code));
    }

    [Fact]
    public void A_class_deriving_from_a_dataclass_has_its_fields_after_its_bases()
    {
        var plan = Generator.Plan("""
            @dataclass
            class Base:
                id: str

            @dataclass
            class Child(Base):
                size: int

            def make() -> Child: ...
            """);

        Assert.Equal(["Id", "Size"], Assert.Single(plan.Records).Properties.Select(p => p.Name));
    }

    [Fact]
    public void A_plain_class_or_a_functional_namedtuple_is_JsonElement_with_a_warning()
    {
        var plan = Generator.Plan("""
            import collections

            class Plain:
                x: int

            Pair = collections.namedtuple("Pair", "a b")
            Options = TypedDict("Options", {"a": int})

            def f(plain: Plain, pair: Pair, opts: Options) -> None: ...
            """);

        Assert.All(plan.Method("f").Parameters, p => Assert.Equal(CsKind.Json, p.Type.Kind));
        Assert.Empty(plan.Records);
        Assert.Equal(3, plan.Diagnostics.Count);
        Assert.All(plan.Diagnostics, d => Assert.Equal(BindingDiagnostic.NotARecord, d.Code));
        Assert.Contains("class Plain is not a dataclass, NamedTuple or TypedDict", plan.Diagnostics[0].Message, StringComparison.Ordinal);
        Assert.Contains("functional form of namedtuple", plan.Diagnostics[1].Message, StringComparison.Ordinal);
        Assert.Contains("functional form of TypedDict", plan.Diagnostics[2].Message, StringComparison.Ordinal);
    }

    [Fact]
    public void Members_named_like_the_record_or_like_each_other_in_csharp_get_a_number_with_a_warning()
    {
        var plan = Generator.Plan("""
            class Stop(TypedDict):
                stop: str
                top_words: int
                topWords: int
                equals: bool

            class TextStats(TypedDict):
                n: int

            def f(stop: Stop) -> TextStats: ...
            """);

        Assert.Equal(["Stop2", "TopWords", "TopWords2", "Equals2"], plan.Record("Stop").Properties.Select(p => p.Name));
        Assert.Equal("TextStats2", plan.Record("TextStats").Name);
        Assert.Equal(4, plan.Diagnostics.Count);
        Assert.All(plan.Diagnostics, d => Assert.Equal(BindingDiagnostic.NameClash, d.Code));
    }
}
