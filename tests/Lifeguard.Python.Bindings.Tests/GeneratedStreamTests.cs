namespace Lifeguard.Python.Bindings.Tests;

/// <summary>Generator functions called as streams through their generated methods, against a real pool.</summary>
public sealed class GeneratedStreamTests(PoolFixture fixture) : IClassFixture<PoolFixture>
{
    private readonly Streams _streams = new(fixture.Pool);

    [Fact]
    public async Task A_generator_with_an_Iterator_hint_streams_its_items_in_order()
    {
        var words = new List<string>();
        await foreach (var word in _streams.WordsAsync("one two three"))
        {
            words.Add(word);
        }

        Assert.Equal(["one", "two", "three"], words);
    }

    [Fact]
    public async Task An_unannotated_generator_streams_JSON_values()
    {
        var numbers = new List<long>();
        await foreach (var n in _streams.CountdownAsync(System.Text.Json.JsonSerializer.SerializeToElement(3)))
        {
            numbers.Add(n.GetInt64());
        }

        Assert.Equal([3, 2, 1], numbers);
    }

    [Fact]
    public async Task An_async_generator_streams_records()
    {
        var ticks = new List<Tick>();
        await foreach (var tick in _streams.TicksAsync(3))
        {
            ticks.Add(tick);
        }

        Assert.Equal([new Tick(0, "tick 0"), new Tick(1, "tick 1"), new Tick(2, "tick 2")], ticks);
    }

    [Fact]
    public async Task Optional_items_may_be_None_and_a_None_item_where_the_hint_promises_a_value_is_an_error()
    {
        var items = new List<long?>();
        await foreach (var item in _streams.MaybeAsync(4))
        {
            items.Add(item);
        }

        Assert.Equal([0, null, 2, null], items);
        var seen = new List<string>();
        var error = await Assert.ThrowsAsync<PythonSerializationException>(async () =>
        {
            await foreach (var item in _streams.BrokenAsync())
            {
                seen.Add(item);
            }
        });
        Assert.Equal(["fine"], seen);
        Assert.Contains("streams.broken gave None", error.Message, StringComparison.Ordinal);
    }

    [Fact]
    public async Task Ending_the_enumeration_early_returns_the_worker_to_the_pool()
    {
        await foreach (var word in _streams.WordsAsync("first second third"))
        {
            Assert.Equal("first", word);
            break;
        }

        Assert.Equal(["a"], await ToListAsync(_streams.WordsAsync("a")));
        Assert.Equal(0, fixture.Pool.GetStatus().Busy);
    }

    [Fact]
    public async Task The_token_passed_to_the_method_ends_the_stream()
    {
        using var cancelled = new CancellationTokenSource();
        await cancelled.CancelAsync();

        await Assert.ThrowsAnyAsync<OperationCanceledException>(() => ToListAsync(_streams.WordsAsync("a b", cancellationToken: cancelled.Token)));
    }

    private static async Task<List<T>> ToListAsync<T>(IAsyncEnumerable<T> items)
    {
        var list = new List<T>();
        await foreach (var item in items)
        {
            list.Add(item);
        }

        return list;
    }
}
