using System.Reflection;
using System.Text.Json;
using System.Text.Json.Serialization;
using Lifeguard.Python.Bindings.Tests.Renamed;

namespace Lifeguard.Python.Bindings.Tests;

/// <summary>What the build generated, read by reflection: names, parameter types and defaults, records.</summary>
public sealed class GeneratedShapeTests
{
    [Fact]
    public void A_module_is_an_interface_and_a_sealed_class_in_the_projects_root_namespace_built_on_an_IPythonCaller()
    {
        Assert.True(typeof(ITextStats).IsInterface && typeof(ITextStats).IsPublic);
        Assert.True(typeof(TextStats).IsSealed && typeof(ITextStats).IsAssignableFrom(typeof(TextStats)));
        Assert.Equal("Lifeguard.Python.Bindings.Tests", typeof(TextStats).Namespace);
        Assert.Equal(typeof(IPythonCaller), Assert.Single(Assert.Single(typeof(TextStats).GetConstructors()).GetParameters()).ParameterType);
        Assert.Equal("text_stats", TextStats.ModuleName);
        Assert.Equal(Path.Combine(AppContext.BaseDirectory, "python"), TextStats.ModulePath);
        Assert.True(File.Exists(Path.Combine(TextStats.ModulePath, "text_stats.py")));
    }

    [Fact]
    public void Analyze_has_the_settled_signature()
    {
        var analyze = typeof(ITextStats).GetMethod(nameof(ITextStats.AnalyzeAsync))!;

        Assert.Equal(typeof(Task<Stats>), analyze.ReturnType);
        var parameters = analyze.GetParameters();
        Assert.Equal(["text", "top", "options", "cancellationToken"], parameters.Select(p => p.Name));
        Assert.Equal([typeof(string), typeof(long), typeof(PythonCallOptions), typeof(CancellationToken)], parameters.Select(p => p.ParameterType));
        Assert.False(parameters[0].IsOptional);
        Assert.Equal(5L, parameters[1].DefaultValue);
        Assert.Null(parameters[2].DefaultValue);
    }

    [Fact]
    public void Literal_defaults_are_csharp_defaults_and_other_defaults_nullable_parameters_defaulting_to_null()
    {
        var defaults = Parameters(nameof(ISignatures.DefaultsAsync));
        Assert.Equal([null, 2L, 0.5, "d", true, null], defaults.Take(6).Select(p => p.IsOptional ? p.DefaultValue : null));
        Assert.Equal([typeof(long), typeof(long), typeof(double), typeof(string), typeof(bool), typeof(string)], defaults.Take(6).Select(p => p.ParameterType));

        var describe = Parameters(nameof(ISignatures.DescribeAsync));
        Assert.Equal([typeof(long?), typeof(string)], describe.Take(2).Select(p => p.ParameterType));
        Assert.All(describe.Take(2), p => Assert.Null(p.DefaultValue));
        Assert.Equal(["event", "params", "default"], Parameters(nameof(ISignatures.KeywordsAsync)).Take(3).Select(p => p.Name));
    }

    [Fact]
    public void Bytes_lists_dictionaries_optionals_and_unannotated_values_have_their_csharp_types()
    {
        Assert.Equal(typeof(Task<byte[]>), Method(nameof(ISignatures.DigestAsync)).ReturnType);
        Assert.Equal(typeof(byte[]), Parameters(nameof(ISignatures.DigestAsync))[0].ParameterType);
        Assert.Equal(typeof(Task<IReadOnlyDictionary<string, long>>), Method(nameof(ISignatures.CountsAsync)).ReturnType);
        Assert.Equal(typeof(IReadOnlyList<string>), Parameters(nameof(ISignatures.CountsAsync))[0].ParameterType);
        Assert.Equal(typeof(Task<string>), Method(nameof(ISignatures.FindAsync)).ReturnType);
        Assert.Equal(typeof(Task), Method(nameof(ISignatures.RecordAsync)).ReturnType);
        Assert.Equal(typeof(Task<JsonElement>), Method(nameof(ISignatures.EchoAsync)).ReturnType);
        Assert.Equal(typeof(JsonElement), Parameters(nameof(ISignatures.EchoAsync))[0].ParameterType);
        Assert.Equal(typeof(Task<long>), Method(nameof(ISignatures.LaterAsync)).ReturnType);
    }

    [Fact]
    public void Records_are_sealed_with_PascalCase_members_named_in_JSON_as_in_Python()
    {
        Assert.True(typeof(Stats).IsSealed);
        var uniqueWords = typeof(Stats).GetProperty(nameof(Stats.UniqueWords))!;
        Assert.Equal(typeof(long), uniqueWords.PropertyType);
        Assert.Equal("unique_words", uniqueWords.GetCustomAttribute<JsonPropertyNameAttribute>()!.Name);

        // A TypedDict with total=False: every member nullable, and left out of the JSON when null.
        var separator = typeof(Options).GetProperty(nameof(Options.Separator))!;
        Assert.Equal(typeof(bool?), typeof(Options).GetProperty(nameof(Options.Upper))!.PropertyType);
        Assert.Equal(JsonIgnoreCondition.WhenWritingNull, separator.GetCustomAttribute<JsonIgnoreAttribute>()!.Condition);
        Assert.Equal(typeof(Options), typeof(Joined).GetProperty(nameof(Joined.Options))!.PropertyType);
    }

    [Fact]
    public void Item_metadata_names_the_module_the_namespace_and_the_class_and_hints_without_a_csharp_type_are_JsonElement()
    {
        Assert.Equal("renamed_fixture", RenamedFixture.ModuleName);
        Assert.Equal("Lifeguard.Python.Bindings.Tests.Renamed", typeof(IRenamedFixture).Namespace);
        Assert.True(File.Exists(Path.Combine(RenamedFixture.ModulePath, "renamed_fixture.py")));
        Assert.Equal(typeof(JsonElement), typeof(IRenamedFixture).GetMethod(nameof(IRenamedFixture.AsTextAsync))!.GetParameters()[0].ParameterType);
        Assert.Equal(typeof(JsonElement), typeof(IRenamedFixture).GetMethod(nameof(IRenamedFixture.EitherAsync))!.GetParameters()[0].ParameterType);
        Assert.Equal(typeof(JsonElement), typeof(IRenamedFixture).GetMethod(nameof(IRenamedFixture.PlainAsync))!.GetParameters()[0].ParameterType);

        // *numbers and **named are left out; name_ clashes with name in C#, and gets a number.
        Assert.Equal(["options", "cancellationToken"], typeof(IRenamedFixture).GetMethod(nameof(IRenamedFixture.TotalAsync))!.GetParameters().Select(p => p.Name));
        Assert.NotNull(typeof(IRenamedFixture).GetMethod("Name2Async"));
    }

    [Fact]
    public void Generators_are_streams_of_their_items()
    {
        Assert.Equal(typeof(IAsyncEnumerable<string>), typeof(IStreams).GetMethod(nameof(IStreams.WordsAsync))!.ReturnType);
        Assert.Equal(typeof(IAsyncEnumerable<JsonElement>), typeof(IStreams).GetMethod(nameof(IStreams.CountdownAsync))!.ReturnType);
        Assert.Equal(typeof(IAsyncEnumerable<Tick>), typeof(IStreams).GetMethod(nameof(IStreams.TicksAsync))!.ReturnType);
        Assert.Equal(typeof(IAsyncEnumerable<long?>), typeof(IStreams).GetMethod(nameof(IStreams.MaybeAsync))!.ReturnType);
    }

    [Fact]
    public void Tuples_are_value_tuples_dataclasses_and_NamedTuples_records_and_datetimes_DateTimeOffset()
    {
        Assert.Equal(typeof(Task<(double, double)>), typeof(IRuntimeTypes).GetMethod(nameof(IRuntimeTypes.BoundsAsync))!.ReturnType);
        Assert.Equal(typeof((string, long)), typeof(IRuntimeTypes).GetMethod(nameof(IRuntimeTypes.SwapAsync))!.GetParameters()[0].ParameterType);
        Assert.Equal(typeof(Task<Point>), typeof(IRuntimeTypes).GetMethod(nameof(IRuntimeTypes.MidpointAsync))!.ReturnType);
        Assert.Equal(typeof(Point), typeof(Segment).GetProperty(nameof(Segment.Start))!.PropertyType);
        Assert.Equal("segment", Assert.Single(typeof(Segment).GetConstructors()).GetParameters()[2].DefaultValue);
        Assert.Equal(typeof(Task<DateTimeOffset>), typeof(IRuntimeTypes).GetMethod(nameof(IRuntimeTypes.LaterAsync))!.ReturnType);
    }

    private static MethodInfo Method(string name) => typeof(ISignatures).GetMethod(name)!;

    private static ParameterInfo[] Parameters(string name) => Method(name).GetParameters();
}
