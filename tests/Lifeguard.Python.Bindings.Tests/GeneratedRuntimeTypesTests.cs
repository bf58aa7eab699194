namespace Lifeguard.Python.Bindings.Tests;

/// <summary>
/// Tuples, dataclasses, NamedTuples and datetimes through their generated methods: value tuples as JSON arrays,
/// records as the JSON objects the Python runtime makes of dataclasses and NamedTuples (and builds them from),
/// <see cref="DateTimeOffset"/> as the ISO text of a Python datetime.
/// </summary>
public sealed class GeneratedRuntimeTypesTests(PoolFixture fixture) : IClassFixture<PoolFixture>
{
    private readonly RuntimeTypes _types = new(fixture.Pool);

    [Fact]
    public async Task A_tuple_result_is_a_value_tuple()
    {
        Assert.Equal((1.5, 4.0), await _types.BoundsAsync([2.0, 1.5, 4.0]));
    }

    [Fact]
    public async Task A_value_tuple_argument_is_a_Python_sequence()
    {
        Assert.Equal((7L, "seven"), await _types.SwapAsync(("seven", 7)));
    }

    [Fact]
    public async Task A_record_argument_is_built_into_its_dataclass_and_a_dataclass_result_is_a_record()
    {
        Assert.Equal(new Point(1, 2), await _types.MidpointAsync(new Point(0, 0), new Point(2, 4)));
    }

    [Fact]
    public async Task A_NamedTuple_result_is_a_record_and_a_record_argument_is_built_into_its_NamedTuple()
    {
        var segment = await _types.SegmentAsync(new Point(0, 0), new Point(3, 4));

        Assert.Equal(new Segment(new Point(0, 0), new Point(3, 4), "segment"), segment);
        Assert.Equal(7.0, await _types.LengthAsync(segment));
    }

    [Fact]
    public async Task A_datetime_is_a_DateTimeOffset_both_ways()
    {
        var when = new DateTimeOffset(2025, 3, 1, 12, 0, 0, TimeSpan.FromHours(1));

        Assert.Equal(when.AddMinutes(90), await _types.LaterAsync(when, 90));
    }
}
