using System.Text.Json;

namespace Lifeguard.Python.Tests;

/// <summary>Streams: a generator's items one by one, under credit, on a worker held for the enumeration.</summary>
public sealed class PythonStreamTests : PythonTestBase
{
    private static readonly TimeSpan Bound = TimeSpan.FromSeconds(30);

    private PythonPoolOptions Streaming(string name, int size = 1)
    {
        var options = Options(name, size);
        options.Preload.Add("streams");
        return options;
    }

    private static string Marker() => Path.Combine(Path.GetTempPath(), "lifeguard-stream-" + Guid.NewGuid().ToString("N"));

    private static string[] Lines(string marker) => File.Exists(marker) ? File.ReadAllLines(marker) : [];

    /// <summary>Polls the marker file until <paramref name="done"/> holds for its lines; fails past the bound.</summary>
    private static async Task<string[]> WaitForLinesAsync(string marker, Func<string[], bool> done)
    {
        var deadline = DateTime.UtcNow + Bound;
        while (true)
        {
            var lines = Lines(marker);
            if (done(lines))
            {
                return lines;
            }

            Assert.True(DateTime.UtcNow < deadline, $"the marker file holds {string.Join(",", lines)}");
            await Task.Delay(10);
        }
    }

    private static async Task<List<T?>> ToListAsync<T>(IAsyncEnumerable<T?> items)
    {
        var list = new List<T?>();
        await foreach (var item in items)
        {
            list.Add(item);
        }

        return list;
    }

    [Theory]
    [InlineData(1)]
    [InlineData(3)]
    [InlineData(16)]
    public async Task Generator_YieldsEveryItemInOrder_AcrossManyCredits(int window)
    {
        await using var pool = await PythonPool.StartAsync(Streaming("stream-order"));
        var options = new PythonCallOptions { StreamWindow = window };

        var items = await ToListAsync(pool.StreamAsync<long>("streams", "count", [200], options: options)).WaitAsync(Bound);

        Assert.Equal(Enumerable.Range(0, 200).Select(i => (long)i), items);
        Assert.Equal(1, pool.GetStatus().Idle);
    }

    [Fact]
    public async Task AsyncGenerator_AndIteratorsAndLists_AllStream()
    {
        await using var pool = await PythonPool.StartAsync(Streaming("stream-kinds"));

        Assert.Equal([0L, 1, 2, 3, 4], await ToListAsync(pool.StreamAsync<long>("streams", "count_async", [5])).WaitAsync(Bound));
        Assert.Equal(["0", "1", "2"], await ToListAsync(pool.StreamAsync<string>("streams", "mapped", [3])).WaitAsync(Bound));
        Assert.Equal([0L, 1, 4, 9], await ToListAsync(pool.StreamAsync<long>("streams", "squares_list", [4])).WaitAsync(Bound));
        Assert.Empty(await ToListAsync(pool.StreamAsync<long>("streams", "count", [0])).WaitAsync(Bound));
    }

    [Fact]
    public async Task FunctionThatReturnsAValue_StreamFailsWithTypeError_WorkerKept()
    {
        await using var pool = await PythonPool.StartAsync(Streaming("stream-not-iterable"));
        int pid = await pool.CallAsync<int>("streams", "pid");

        var error = await Assert.ThrowsAsync<PythonException>(() => ToListAsync(pool.StreamAsync<long>("streams", "not_iterable")).WaitAsync(Bound));

        Assert.Equal("TypeError", error.PythonType);
        Assert.Contains("streams.not_iterable returned int, not a generator or an iterable", error.Message, StringComparison.Ordinal);
        Assert.Equal(pid, await pool.CallAsync<int>("streams", "pid"));
    }

    [Fact]
    public async Task TypedRecordsAndJsonElementsAndBytes_ReadAsTheyCome()
    {
        await using var pool = await PythonPool.StartAsync(Streaming("stream-shapes"));

        var records = await ToListAsync(pool.StreamAsync<Numbered>("streams", "records", [3])).WaitAsync(Bound);
        Assert.Equal([new Numbered(0, "item 0"), new Numbered(1, "item 1"), new Numbered(2, "item 2")], records);

        var elements = new List<JsonElement>();
        await foreach (var element in pool.StreamAsync("streams", "records", [2]))
        {
            elements.Add(element);
        }

        Assert.Equal("item 1", elements[1].GetProperty("label").GetString());

        var blobs = await ToListAsync(pool.StreamAsync<byte[]>("streams", "blobs", [3, 100_000])).WaitAsync(Bound);
        Assert.Equal(3, blobs.Count);
        Assert.All(blobs.Select((b, i) => (b, i)), x => Assert.Equal(Enumerable.Repeat((byte)x.i, 100_000), x.b!));
    }

    [Fact]
    public async Task SlowConsumer_GeneratorRunsAtMostTheWindowAhead()
    {
        await using var pool = await PythonPool.StartAsync(Streaming("stream-backpressure"));
        string marker = Marker();
        try
        {
            const int window = 4;
            await using var items = pool.StreamAsync<long>("streams", "count", [1000, marker], options: new PythonCallOptions { StreamWindow = window })
                .GetAsyncEnumerator();

            Assert.True(await items.MoveNextAsync());
            // The worker had credit for 4 items: it produces them, and then waits for more, however long this takes.
            var produced = await WaitForLinesAsync(marker, lines => lines.Length >= window);
            Assert.Equal(window, produced.Length);

            for (int taken = 1; taken < 40; taken++)
            {
                Assert.True(await items.MoveNextAsync());
                Assert.Equal(taken, items.Current);
                // Credit goes out for half a window at a time, for the items taken: never more than a window ahead.
                Assert.InRange(Lines(marker).Length, taken + 1, taken + 1 + window);
            }
        }
        finally
        {
            File.Delete(marker);
        }
    }

    [Fact]
    public async Task BreakingOut_ClosesTheGenerator_FinallyRuns_WorkerKept()
    {
        await using var pool = await PythonPool.StartAsync(Streaming("stream-break"));
        int pid = await pool.CallAsync<int>("streams", "pid");
        string marker = Marker();
        try
        {
            var taken = new List<long>();
            await foreach (var item in pool.StreamAsync<long>("streams", "count", [1_000_000, marker]))
            {
                taken.Add(item);
                if (taken.Count == 3)
                {
                    break;
                }
            }

            Assert.Equal([0L, 1, 2], taken);
            Assert.Equal("finally", Lines(marker)[^1]); // closed before the enumeration's disposal returned
            Assert.True(Lines(marker).Length <= 3 + 16 + 1);
            Assert.Equal(pid, await pool.CallAsync<int>("streams", "pid"));
            Assert.Equal(0, pool.GetStatus().TotalDeaths);
        }
        finally
        {
            File.Delete(marker);
        }
    }

    [Fact]
    public async Task TokenFiresWhileAnItemIsComputed_GeneratorInterrupted_FinallyRuns_WorkerKept()
    {
        await using var pool = await PythonPool.StartAsync(Streaming("stream-cancel"));
        int pid = await pool.CallAsync<int>("streams", "pid");
        string marker = Marker();
        try
        {
            using var cts = new CancellationTokenSource();
            var taken = new List<long>();
            var stream = pool.StreamAsync<long>("streams", "slow_after", [2, 60, marker], cancellationToken: cts.Token);
            var error = await Record.ExceptionAsync(async () =>
            {
                await foreach (var item in stream)
                {
                    taken.Add(item);
                    if (taken.Count == 2)
                    {
                        cts.Cancel(); // the generator is now in its 60 s sleep
                    }
                }
            }).WaitAsync(Bound);

            Assert.IsAssignableFrom<OperationCanceledException>(error);
            Assert.Equal([0L, 1], taken);
            Assert.Equal(["finally"], Lines(marker));
            Assert.Equal(pid, await pool.CallAsync<int>("streams", "pid"));
        }
        finally
        {
            File.Delete(marker);
        }
    }

    [Fact]
    public async Task TokenFiredBetweenItems_ClosesTheGenerator_AndThrows()
    {
        await using var pool = await PythonPool.StartAsync(Streaming("stream-cancel-between"));
        string marker = Marker();
        try
        {
            using var cts = new CancellationTokenSource();
            await using var items = pool.StreamAsync<long>("streams", "count", [1_000_000, marker]).GetAsyncEnumerator(cts.Token);
            Assert.True(await items.MoveNextAsync());
            cts.Cancel();

            await Assert.ThrowsAnyAsync<OperationCanceledException>(() => items.MoveNextAsync().AsTask()).WaitAsync(Bound);
            Assert.Equal("finally", Lines(marker)[^1]);
            Assert.Equal(1, pool.GetStatus().Idle);
        }
        finally
        {
            File.Delete(marker);
        }
    }

    [Fact]
    public async Task CloseOutlastingTheGracePeriod_IsInterrupted_WorkerKept()
    {
        var options = Streaming("stream-slow-close");
        options.CancelGracePeriod = TimeSpan.FromSeconds(1);
        await using var pool = await PythonPool.StartAsync(options);
        int pid = await pool.CallAsync<int>("streams", "pid");
        string marker = Marker();
        try
        {
            await foreach (var item in pool.StreamAsync<long>("streams", "slow_close", [60, marker]))
            {
                break;
            }

            Assert.Equal(["closing", "interrupted"], Lines(marker));
            Assert.Equal(pid, await pool.CallAsync<int>("streams", "pid"));
        }
        finally
        {
            File.Delete(marker);
        }
    }

    [Fact]
    public async Task GeneratorThatIgnoresTheClose_IsKilledAndReplaced()
    {
        var options = Streaming("stream-ignores-close");
        options.CancelGracePeriod = TimeSpan.FromMilliseconds(500);
        await using var pool = await PythonPool.StartAsync(options);
        int pid = await pool.CallAsync<int>("streams", "pid");

        await foreach (var item in pool.StreamAsync<long>("streams", "ignores_close").WithCancellation(CancellationToken.None))
        {
            break;
        }

        var deadline = DateTime.UtcNow + Bound;
        while (ProcessExists(pid))
        {
            Assert.True(DateTime.UtcNow < deadline, $"worker {pid} is still running");
            await Task.Delay(10);
        }

        Assert.Equal(1, pool.GetStatus().TotalDeaths);
        int replacement = await pool.CallAsync<int>("streams", "pid").WaitAsync(Bound);
        Assert.NotEqual(pid, replacement);
    }

    [Fact]
    public async Task CloseThatRaises_IsLogged_WorkerKept()
    {
        await using var pool = await PythonPool.StartAsync(Streaming("stream-close-raises"));
        int pid = await pool.CallAsync<int>("streams", "pid");

        await foreach (var item in pool.StreamAsync<long>("streams", "raises_on_close"))
        {
            break;
        }

        Assert.Contains(Logs.Entries, e => e.EventId.Id == 2104 && e.Message.Contains("RuntimeError: cleanup failed", StringComparison.Ordinal));
        Assert.Equal(pid, await pool.CallAsync<int>("streams", "pid"));
    }

    [Fact]
    public async Task ExceptionMidStream_ArrivesAfterTheItemsYieldedBeforeIt()
    {
        await using var pool = await PythonPool.StartAsync(Streaming("stream-raises"));
        int pid = await pool.CallAsync<int>("streams", "pid");
        var taken = new List<long>();

        var error = await Assert.ThrowsAsync<PythonException>(async () =>
        {
            await foreach (var item in pool.StreamAsync<long>("streams", "fail_after", [3]))
            {
                taken.Add(item);
            }
        }).WaitAsync(Bound);

        Assert.Equal([0L, 1, 2], taken);
        Assert.Equal("ValueError", error.PythonType);
        Assert.Equal("no more after 3", error.PythonMessage);
        Assert.Contains("fail_after", error.PythonTraceback, StringComparison.Ordinal);
        Assert.DoesNotContain("_runtime.py", error.PythonTraceback, StringComparison.Ordinal);
        Assert.Equal(pid, await pool.CallAsync<int>("streams", "pid"));
    }

    [Fact]
    public async Task CrashMidStream_WorkerCrashedAfterTheItems_Replaced_NotRetried()
    {
        var options = Streaming("stream-crash");
        options.MaxRetries = 3;
        await using var pool = await PythonPool.StartAsync(options);
        var taken = new List<long>();

        var crash = await Assert.ThrowsAsync<PythonWorkerCrashedException>(async () =>
        {
            await foreach (var item in pool.StreamAsync<long>("streams", "crash_after", [2]))
            {
                taken.Add(item);
            }
        }).WaitAsync(Bound);

        Assert.Equal([0L, 1], taken);
        Assert.Equal(3, crash.ExitCode);
        long[]? squares = await pool.CallAsync<long[]>("streams", "squares_list", [3]).WaitAsync(Bound); // serves again
        Assert.Equal(new long[] { 0, 1, 4 }, squares);
        Assert.Equal(1, pool.GetStatus().TotalDeaths);
    }

    [Fact]
    public async Task CallTimeout_BoundsEachItem_NotTheWholeStream()
    {
        var options = Streaming("stream-timeout");
        options.CallTimeout = TimeSpan.FromSeconds(2);
        await using var pool = await PythonPool.StartAsync(options);

        // Four items 0.8 s apart: 3.2 s in all, each within the 2 s timeout.
        Assert.Equal([0L, 1, 2, 3], await ToListAsync(pool.StreamAsync<long>("streams", "paced", [4, 0.8])).WaitAsync(Bound));

        var taken = new List<long>();
        var timeout = await Assert.ThrowsAsync<PythonCallTimeoutException>(async () =>
        {
            await foreach (var item in pool.StreamAsync<long>("streams", "slow_after", [2, 60], options: new PythonCallOptions { CallTimeout = TimeSpan.FromSeconds(1) }))
            {
                taken.Add(item);
            }
        }).WaitAsync(Bound);

        Assert.Equal([0L, 1], taken);
        Assert.Equal(TimeSpan.FromSeconds(1), timeout.Timeout);
        Assert.False(timeout.WorkerKilled);
    }

    [Fact]
    public async Task TheWorkerIsHeldForTheWholeEnumeration()
    {
        await using var pool = await PythonPool.StartAsync(Streaming("stream-lease"));
        await using (var items = pool.StreamAsync<long>("streams", "count", [100]).GetAsyncEnumerator())
        {
            Assert.Equal(1, pool.GetStatus().Idle); // nothing is checked out before the enumeration starts
            Assert.True(await items.MoveNextAsync());
            Assert.Equal(1, pool.GetStatus().Busy);
            await Assert.ThrowsAsync<PoolTimeoutException>(
                () => pool.CallAsync<int>("streams", "pid", options: new PythonCallOptions { CheckoutTimeout = TimeSpan.Zero }));
        }

        Assert.Equal(1, pool.GetStatus().Idle);
        Assert.Equal([0L, 1], await ToListAsync(pool.StreamAsync<long>("streams", "count", [2])).WaitAsync(Bound));
    }

    [Fact]
    public async Task LeasedWorker_Streams_AndCallsAfterwards()
    {
        await using var pool = await PythonPool.StartAsync(Streaming("stream-leased"));
        using var lease = await pool.CheckoutAsync();

        var items = await ToListAsync(lease.Worker.StreamAsync<long>("streams", "count", [5])).WaitAsync(Bound);

        Assert.Equal([0L, 1, 2, 3, 4], items);
        Assert.Equal(lease.Worker.ProcessId, await lease.Worker.CallAsync<int>("streams", "pid"));
        await Assert.ThrowsAsync<ArgumentException>(
            () => ToListAsync(lease.Worker.StreamAsync<long>("streams", "count", [5], options: new PythonCallOptions { CheckoutTimeout = TimeSpan.Zero })));
    }

    [Fact]
    public async Task GeneratorCallingTheHost_IsAnswered()
    {
        var options = Streaming("stream-callbacks");
        options.Callbacks["double"] = (args, ct) => ValueTask.FromResult<object?>(args[0].GetInt64() * 2);
        await using var pool = await PythonPool.StartAsync(options);

        Assert.Equal([0L, 2, 4, 6], await ToListAsync(pool.StreamAsync<long>("streams", "asks_host", [4])).WaitAsync(Bound));
    }

    [Fact]
    public async Task CallAsyncOnAGenerator_ReturnsItsItemsAsAList_WithinTheFrameLimit()
    {
        var options = Streaming("stream-drained");
        options.MaxFrameSize = 64 * 1024;
        await using var pool = await PythonPool.StartAsync(options);
        int pid = await pool.CallAsync<int>("streams", "pid");

        long[]? drained = await pool.CallAsync<long[]>("streams", "count", [3]);
        Assert.Equal(new long[] { 0, 1, 2 }, drained);
        drained = await pool.CallAsync<long[]>("streams", "count_async", [2]);
        Assert.Equal(new long[] { 0, 1 }, drained);

        // A million items of 100 characters would not fit in 64 KiB: the drain stops early, with the encode error.
        var error = await Assert.ThrowsAsync<PythonException>(() => pool.CallAsync<string[]>("streams", "big_items", [1_000_000, 100])).WaitAsync(Bound);
        Assert.Equal("lifeguard._protocol.EncodeError", error.PythonType);
        Assert.Contains("exceed the maximum frame size of 65536 bytes", error.Message, StringComparison.Ordinal);
        Assert.Equal(pid, await pool.CallAsync<int>("streams", "pid"));
    }

    [Fact]
    public async Task ItemTooLargeForAFrame_FailsTheStreamTyped_WorkerKept()
    {
        var options = Streaming("stream-item-too-large");
        options.MaxFrameSize = 64 * 1024;
        await using var pool = await PythonPool.StartAsync(options);
        int pid = await pool.CallAsync<int>("streams", "pid");
        var taken = new List<string?>();

        var error = await Assert.ThrowsAsync<PythonException>(async () =>
        {
            await foreach (var item in pool.StreamAsync<string>("streams", "big_items", [3, 100_000]))
            {
                taken.Add(item);
            }
        }).WaitAsync(Bound);

        Assert.Empty(taken);
        Assert.Equal("lifeguard._protocol.EncodeError", error.PythonType);
        Assert.Contains("maximum frame size", error.Message, StringComparison.Ordinal);
        Assert.Equal(pid, await pool.CallAsync<int>("streams", "pid"));
    }

    [Fact]
    public async Task ArgumentsThatCannotCrossTheWire_FailTheStreamTyped_NothingSent_WorkerKept()
    {
        var options = Streaming("stream-bad-arguments");
        options.CancelGracePeriod = TimeSpan.FromMilliseconds(500);
        await using var pool = await PythonPool.StartAsync(options);
        int pid = await pool.CallAsync<int>("streams", "pid");

        var error = await Assert.ThrowsAsync<PythonSerializationException>(() => ToListAsync(pool.StreamAsync<long>("streams", "count", [double.NaN]))).WaitAsync(Bound);

        Assert.Contains("positional argument 0", error.Message, StringComparison.Ordinal);
        Assert.Equal(pid, await pool.CallAsync<int>("streams", "pid"));
        Assert.Equal([0L, 1], await ToListAsync(pool.StreamAsync<long>("streams", "count", [2])).WaitAsync(Bound));
        Assert.Equal(0, pool.GetStatus().TotalDeaths);
    }

    [Fact]
    public async Task PoolStoppedUnderAStream_TheEnumerationEndsWithPoolStoppedException_FinallyRuns()
    {
        var options = Streaming("stream-pool-stopped");
        options.DrainTimeout = TimeSpan.FromMilliseconds(200);
        var pool = await PythonPool.StartAsync(options);
        string marker = Marker();
        try
        {
            await using var items = pool.StreamAsync<long>("streams", "slow_after", [1, 60, marker]).GetAsyncEnumerator();
            Assert.True(await items.MoveNextAsync());
            var next = items.MoveNextAsync().AsTask(); // the generator is in its 60 s sleep

            await pool.DisposeAsync().AsTask().WaitAsync(Bound);

            var stopped = await Assert.ThrowsAsync<PoolStoppedException>(() => next.WaitAsync(Bound));
            Assert.Matches(@"^Pool 'stream-pool-stopped' stopped Python worker \d+ while it ran streams\.slow_after: ", stopped.Message);
            Assert.Equal(["finally"], Lines(marker));
        }
        finally
        {
            await pool.DisposeAsync();
            File.Delete(marker);
        }
    }

    [Fact]
    public async Task InvalidStreamWindow_ThrowsWhenTheStreamIsAskedFor()
    {
        await using var pool = await PythonPool.StartAsync(Streaming("stream-window-invalid"));

        Assert.Throws<ArgumentOutOfRangeException>(() => pool.StreamAsync<long>("streams", "count", [1], options: new PythonCallOptions { StreamWindow = 0 }));
        Assert.Throws<ArgumentOutOfRangeException>(() => pool.StreamAsync<long>("streams", "count", [1], options: new PythonCallOptions { StreamWindow = 65537 }));
        var options = Options("stream-window-pool");
        options.StreamWindow = 0;
        var invalid = await Assert.ThrowsAsync<ArgumentException>(() => PythonPool.StartAsync(options));
        Assert.Contains("StreamWindow must be from 1 to 65536 (was 0)", invalid.Message, StringComparison.Ordinal);
    }

    [Fact]
    public async Task ItemThatDoesNotBind_FailsTyped_TheGeneratorIsClosed_WorkerKept()
    {
        await using var pool = await PythonPool.StartAsync(Streaming("stream-bind"));
        int pid = await pool.CallAsync<int>("streams", "pid");
        string marker = Marker();
        try
        {
            await Assert.ThrowsAsync<PythonSerializationException>(() => ToListAsync(pool.StreamAsync<Numbered>("streams", "count", [100, marker]))).WaitAsync(Bound);

            Assert.Equal("finally", Lines(marker)[^1]);
            Assert.Equal(pid, await pool.CallAsync<int>("streams", "pid"));
        }
        finally
        {
            File.Delete(marker);
        }
    }

    [Fact]
    public async Task NamedTupleItems_OfAHintedGenerator_ArriveAsRecords_AlsoWhenDrained()
    {
        await using var pool = await PythonPool.StartAsync(Streaming("stream-namedtuples"));

        Assert.Equal([new Pair(0, 0), new Pair(1, -1)], await ToListAsync(pool.StreamAsync<Pair>("streams", "pairs", [2])).WaitAsync(Bound));
        Pair[]? drained = await pool.CallAsync<Pair[]>("streams", "pairs", [2]);
        Assert.Equal(new[] { new Pair(0, 0), new Pair(1, -1) }, drained);
    }

    private sealed record Numbered(long Index, string Label);

    private sealed record Pair(long Left, long Right);
}
