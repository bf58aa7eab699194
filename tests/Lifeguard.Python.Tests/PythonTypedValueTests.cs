using System.Text.Json;
using System.Text.Json.Serialization;

namespace Lifeguard.Python.Tests;

/// <summary>
/// Typed values both ways with a real python3 (<c>python/typed_values.py</c>, string hints): records as dataclasses
/// and NamedTuples, <see cref="DateTimeOffset"/> as datetime, tuples as tuples, and what does not fit.
/// </summary>
public sealed class PythonTypedValueTests : PythonTestBase
{
    private const string Module = "typed_values";
    private static readonly TimeSpan PlusTwo = TimeSpan.FromHours(2);

    [Fact]
    public async Task CallAsync_RecordsInAndOut_NestedAllTheWay()
    {
        await using var pool = await PythonPool.StartAsync(Options("typed-records"));
        var created = new DateTimeOffset(2024, 5, 1, 23, 30, 0, PlusTwo);

        var moved = await pool.CallAsync<Shape>(Module, "move", [Sample(created), new Point(10, 20)]);

        Assert.NotNull(moved);
        Assert.Equal("square", moved.Name);
        Assert.Equal([new Point(10, 20), new Point(11, 21)], moved.Corners);
        var segment = Assert.Single(moved.Segments);
        Assert.Equal(new Segment(new Point(10, 20), new Point(11, 21)), segment); // a NamedTuple in a dataclass: an object
        Assert.Equal(created.AddDays(1), moved.Created);
        Assert.Equal(PlusTwo, moved.Created.Offset);
        Assert.Equal(new Point(12, 22), moved.Tags["far"]);
        Assert.Null(moved.Label);
    }

    [Fact]
    public async Task CallAsync_TypedArguments_ArriveAsInstances_PositionalAndKeyword()
    {
        await using var pool = await PythonPool.StartAsync(Options("typed-instances"));

        var names = await pool.CallAsync<string[]>(
            Module, "types_of", [Sample(DateTimeOffset.UnixEpoch)], new Dictionary<string, object?> { ["at"] = new Point(0, 0) });

        Assert.Equal(["Shape", "datetime", "Point", "Point", "Segment(Point)", "far:Point", "Point"], names!);
        var unset = await pool.CallAsync<string[]>(Module, "types_of", [Sample(DateTimeOffset.UnixEpoch)], new Dictionary<string, object?> { ["at"] = null });
        Assert.Equal("NoneType", unset![^1]);
    }

    [Fact]
    public async Task CallAsync_NamedTuples_ObjectsWhenTheReturnHintNamesThem_ArraysWithoutAHint()
    {
        await using var pool = await PythonPool.StartAsync(Options("typed-namedtuples"));

        var hinted = await pool.CallAsync<List<Segment>>(Module, "segments", [2]);
        Assert.Equal([new Segment(new Point(0, 0), new Point(0, 1)), new Segment(new Point(1, 0), new Point(1, 1))], hinted);

        var unhinted = await pool.CallAsync(Module, "segments_unhinted", [1]);
        Assert.Equal("[[{\"x\":0,\"y\":0},{\"x\":0,\"y\":1}]]", unhinted.GetRawText());
    }

    [Fact]
    public async Task CallAsync_DateTimeOffset_RoundTripsWithItsOffsetToTheMicrosecond()
    {
        await using var pool = await PythonPool.StartAsync(Options("typed-datetime"));
        var when = new DateTimeOffset(2024, 2, 29, 23, 59, 59, TimeSpan.FromMinutes(330)).AddTicks(1234567); // 7 digits

        var (moved, offsetMinutes, type) = await pool.CallAsync<(DateTimeOffset, int, string)>(Module, "shift", [when, 1.5]);

        Assert.Equal("datetime", type);
        Assert.Equal(330, offsetMinutes);
        Assert.Equal(when.AddHours(1.5).AddTicks(-7), moved); // beyond microseconds the digits are dropped
        Assert.Equal(when.Offset, moved.Offset);

        var utc = await pool.CallAsync<(DateTimeOffset, int, string)>(Module, "shift", [new DateTime(2024, 1, 1, 0, 0, 0, DateTimeKind.Utc), -1]);
        Assert.Equal((new DateTimeOffset(2023, 12, 31, 23, 0, 0, TimeSpan.Zero), 0, "datetime"), utc); // 'Z'

        var unspecified = await pool.CallAsync<(DateTime, int, string)>(Module, "shift", [new DateTime(2024, 1, 1, 12, 0, 0), 0]);
        Assert.Equal((new DateTime(2024, 1, 1, 12, 0, 0), -1, "datetime"), unspecified); // naive both ways
    }

    [Fact]
    public async Task CallAsync_NaiveDatetimeAndDate()
    {
        await using var pool = await PythonPool.StartAsync(Options("typed-naive"));

        var naive = await pool.CallAsync<DateTime>(Module, "naive");
        Assert.Equal(new DateTime(2024, 3, 4, 5, 6, 7, 890), naive);
        Assert.Equal(DateTimeKind.Unspecified, naive.Kind);
        var local = await pool.CallAsync<DateTimeOffset>(Module, "naive");
        Assert.Equal(TimeZoneInfo.Local.GetUtcOffset(naive), local.Offset); // as docs/python.md says
        Assert.Equal(naive, local.DateTime);
        Assert.Equal("date 2024-03-01", await pool.CallAsync<string>(Module, "today", [new DateOnly(2024, 2, 29)]));
    }

    [Fact]
    public async Task CallAsync_ValueTuples_AreTuplesInPythonAndArraysOnTheWire()
    {
        await using var pool = await PythonPool.StartAsync(Options("typed-tuples"));

        var names = await pool.CallAsync<string[]>(Module, "pair", [(7, new Point(1, 2)), ("a", "b", "c")]);

        Assert.Equal(["tuple", "Point", "tuple", "3"], names!);
    }

    [Fact]
    public async Task CallAsync_TypedDictAndAsyncFunction()
    {
        await using var pool = await PythonPool.StartAsync(Options("typed-dict-async"));

        var summary = await pool.CallAsync<Summary>(Module, "summarise", [new Summary("s", 3)]);
        Assert.Equal(new Summary("dict:s", 4), summary);

        var nearest = await pool.CallAsync<Point>(Module, "nearest", [new[] { new Point(0, 0), new Point(5, 5), new Point(9, 9) }, new Point(6, 6)]);
        Assert.Equal(new Point(5, 5), nearest);
    }

    public static TheoryData<string, object, string, string> Misfits => new()
    {
        { "missing field", new { name = "s", corners = new[] { new { x = 1 } }, segments = Array.Empty<object>(), created = "2024-01-01T00:00:00Z" },
            "TypeError", "typed_values.types_of: parameter 'shape' at shape.corners[0]: missing field 'y' of Point" },
        { "unknown key", new { name = "s", corners = Array.Empty<object>(), segments = Array.Empty<object>(), created = "2024-01-01T00:00:00Z", colour = "red" },
            "TypeError", "typed_values.types_of: parameter 'shape': Shape has no field 'colour' (its fields: name, corners, segments, created, tags, label)" },
        { "datetime of another type", new { name = "s", corners = Array.Empty<object>(), segments = Array.Empty<object>(), created = 1_700_000_000 },
            "TypeError", "typed_values.types_of: parameter 'shape' at shape.created: expected an ISO 8601 date-time string for datetime, got a number" },
        { "datetime out of range", new { name = "s", corners = Array.Empty<object>(), segments = Array.Empty<object>(), created = "2024-02-30T00:00:00Z" },
            "ValueError", "typed_values.types_of: parameter 'shape' at shape.created: the string is not a valid date-time: day is out of range for month" },
        { "segment of the wrong shape", new { name = "s", corners = Array.Empty<object>(), segments = new[] { new[] { 1 } }, created = "2024-01-01T00:00:00Z" },
            "TypeError", "typed_values.types_of: parameter 'shape' at shape.segments[0]: expected 2 items for Segment, got 1" },
    };

    [Theory]
    [MemberData(nameof(Misfits))]
    public async Task CallAsync_ArgumentDoesNotFitItsHint_PythonExceptionNamingParameterAndField_WorkerKept(
        string what, object shape, string type, string message)
    {
        await using var pool = await PythonPool.StartAsync(Options("typed-misfit"));
        int pid = await pool.CallAsync<int>("fixtures", "pid");

        var error = await Assert.ThrowsAsync<PythonException>(() => pool.CallAsync<string[]>(Module, "types_of", [shape]));

        Assert.Equal(type, error.PythonType);
        Assert.True(message == error.PythonMessage, $"{what}: {error.PythonMessage}");
        Assert.Equal("typed_values.types_of", error.Function);
        Assert.Equal(pid, await pool.CallAsync<int>("fixtures", "pid"));
        Assert.Equal("Shape", (await pool.CallAsync<string[]>(Module, "types_of", [Sample(DateTimeOffset.UnixEpoch)]))![0]);
    }

    [Fact]
    public async Task CallAsync_ResultTupleOfAnotherArity_SerializationErrorNamingTheTuple_WorkerKept()
    {
        await using var pool = await PythonPool.StartAsync(Options("typed-arity"));
        int pid = await pool.CallAsync<int>("fixtures", "pid");

        var error = await Assert.ThrowsAsync<PythonSerializationException>(
            () => pool.CallAsync<(DateTimeOffset, int)>(Module, "shift", [DateTimeOffset.UnixEpoch, 1]));

        Assert.Contains("(DateTimeOffset, Int32)", error.Message, StringComparison.Ordinal);
        Assert.Contains("Expected a JSON array of 2 items", error.Message, StringComparison.Ordinal);
        Assert.Equal(pid, await pool.CallAsync<int>("fixtures", "pid"));
    }

    [Fact]
    public async Task CallAsync_UsersOwnSerializerOptions_TuplesStillArrays_TheirInstanceUntouched()
    {
        var user = new JsonSerializerOptions(JsonSerializerDefaults.Web);
        var options = Options("typed-user-options");
        options.JsonSerializerOptions = user;
        await using var pool = await PythonPool.StartAsync(options);

        var names = await pool.CallAsync<string[]>(Module, "pair", [(7, new Point(1, 2)), ValueTuple.Create("a")]);
        var (_, offset, type) = await pool.CallAsync<(DateTimeOffset, int, string)>(Module, "shift", [DateTimeOffset.UnixEpoch, 1]);

        Assert.Equal(["tuple", "Point", "tuple", "1"], names!);
        Assert.Equal((0, "datetime"), (offset, type));
        Assert.Empty(user.Converters);
    }

    private static Shape Sample(DateTimeOffset created)
        => new(
            "square",
            [new Point(0, 0), new Point(1, 1)],
            [new Segment(new Point(0, 0), new Point(1, 1))],
            created,
            new Dictionary<string, Point> { ["far"] = new Point(2, 2) });

    // As generated bindings spell them: sealed records, each property naming its Python field.
    public sealed record Point([property: JsonPropertyName("x")] double X, [property: JsonPropertyName("y")] double Y);

    public sealed record Segment([property: JsonPropertyName("start")] Point Start, [property: JsonPropertyName("end")] Point End);

    public sealed record Summary([property: JsonPropertyName("name")] string Name, [property: JsonPropertyName("corner_count")] int CornerCount);

    public sealed record Shape(
        [property: JsonPropertyName("name")] string Name,
        [property: JsonPropertyName("corners")] IReadOnlyList<Point> Corners,
        [property: JsonPropertyName("segments")] IReadOnlyList<Segment> Segments,
        [property: JsonPropertyName("created")] DateTimeOffset Created,
        [property: JsonPropertyName("tags")] IReadOnlyDictionary<string, Point> Tags,
        [property: JsonPropertyName("label")] string? Label = null);
}
