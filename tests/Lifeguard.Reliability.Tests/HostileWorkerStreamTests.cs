using System.Diagnostics;
using Lifeguard.Python;

namespace Lifeguard.Reliability.Tests;

/// <summary>
/// Stream frames from a hostile worker (python/hostile_worker.py): items beyond the credit, counts that do not add up,
/// frames of the wrong kind or id, a stream that stalls or ignores the close. Each ends the enumeration with a typed
/// error (or, for an early exit, returns) within a bounded time; the worker is killed and replaced; the host never reads
/// more than the window.
/// </summary>
public class HostileWorkerStreamTests : ReliabilityTestBase
{
    private const string Module = HostileWorkerTests.Module;

    /// <summary>How this class's pools start their workers.</summary>
    protected virtual PythonStartMode Mode => PythonStartMode.Spawn;
    private static readonly TimeSpan Guard = HostileWorkerTests.Guard;

    private static async Task<List<long>> DrainAsync(IAsyncEnumerable<long> items, List<long> taken)
    {
        await foreach (var item in items)
        {
            taken.Add(item);
        }

        return taken;
    }

    [Fact]
    public async Task SoundStream_FromAWorkerThatSpeaksTheProtocolByHand_IsRead()
    {
        await HostileWorkerTests.WithPoolAsync(Logs.CreateFactory(), Mode, async pool =>
        {
            int pid = await pool.CallAsync<int>(Module, "pid").WaitAsync(Guard);
            var items = await DrainAsync(pool.StreamAsync<long>(Module, "stream_good", [50], options: new PythonCallOptions { StreamWindow = 4 }), []).WaitAsync(Guard);
            Assert.Equal(Enumerable.Range(0, 50).Select(i => (long)i), items);
            Assert.Equal(pid, await pool.CallAsync<int>(Module, "pid").WaitAsync(Guard));
        });
    }

    [Theory]
    [InlineData("stream_count_short", "stream 2 ended after 5 items, but 2 arrived")]
    [InlineData("stream_end_malformed", "the end of stream 2 is not {\"items\": n}")]
    [InlineData("stream_end_not_json", "the end of stream 2 is not {\"items\": n}")]
    [InlineData("stream_item_wrong_id", "expected a frame of stream 2, got a Item frame with id 1002")]
    [InlineData("stream_item_invalid_json", "is not valid JSON")]
    [InlineData("stream_result_instead", "expected an item or the end of stream 2, got a Result frame")]
    [InlineData("stream_host_kind", "expected an item or the end of stream 2, got a Credit frame")]
    public async Task Stream_ProtocolViolation_ProtocolExceptionAfterTheSoundItems_WorkerReplaced(string function, string message)
    {
        await HostileWorkerTests.WithPoolAsync(Logs.CreateFactory(), Mode, async pool =>
        {
            int pid = await pool.CallAsync<int>(Module, "pid").WaitAsync(Guard);
            var taken = new List<long>();

            var error = await Assert.ThrowsAsync<PythonProtocolException>(
                () => DrainAsync(pool.StreamAsync<long>(Module, function, [100_000], options: new PythonCallOptions { StreamWindow = 4 }), taken)).WaitAsync(Guard);

            Assert.Contains(message, error.Message, StringComparison.Ordinal);
            Assert.True(taken.Count <= 4, $"{taken.Count} items were read with a window of 4");
            await HostileWorkerTests.AssertReplacedAsync(pool, pid);
        });
    }

    [Theory]
    [InlineData("item_to_a_call", "expected the reply to call 2, got a Item frame with id 2")]
    [InlineData("stream_end_to_a_call", "expected the reply to call 2, got a StreamEnd frame with id 2")]
    public async Task StreamFramesAnsweringACall_AreAViolation(string function, string message)
    {
        await HostileWorkerTests.WithPoolAsync(Logs.CreateFactory(), Mode, async pool =>
        {
            int pid = await pool.CallAsync<int>(Module, "pid").WaitAsync(Guard);
            var error = await Assert.ThrowsAsync<PythonProtocolException>(() => pool.CallAsync<long>(Module, function).WaitAsync(Guard));
            Assert.Contains(message, error.Message, StringComparison.Ordinal);
            await HostileWorkerTests.AssertReplacedAsync(pool, pid);
        });
    }

    [Fact]
    public async Task StreamThatIgnoresCredit_AndNeverReads_EndsAtThePerItemTimeout_WorkerKilledAndReplaced()
    {
        // Its items wait in the pipe (the host reads one per item taken); once the credit it never reads fills its
        // input, the host cannot give more, and the wait for the next item times out.
        await HostileWorkerTests.WithPoolAsync(Logs.CreateFactory(), Mode, async pool =>
        {
            int pid = await pool.CallAsync<int>(Module, "pid").WaitAsync(Guard);
            var taken = new List<long>();

            var error = await Assert.ThrowsAsync<PythonCallTimeoutException>(
                () => DrainAsync(pool.StreamAsync<long>(Module, "stream_flood", [10_000_000], options: new PythonCallOptions { StreamWindow = 2 }), taken)).WaitAsync(Guard);

            Assert.True(error.WorkerKilled);
            Assert.Equal(Enumerable.Range(0, taken.Count).Select(i => (long)i), taken);
            await HostileWorkerTests.AssertReplacedAsync(pool, pid);
        });
    }

    [Fact]
    public async Task StreamThatStallsAfterItsItems_TimesOutPerItem_WorkerKilledAndReplaced()
    {
        await HostileWorkerTests.WithPoolAsync(Logs.CreateFactory(), Mode, async pool =>
        {
            int pid = await pool.CallAsync<int>(Module, "pid").WaitAsync(Guard);
            var taken = new List<long>();
            var watch = Stopwatch.StartNew();

            var error = await Assert.ThrowsAsync<PythonCallTimeoutException>(() => DrainAsync(pool.StreamAsync<long>(Module, "stream_hang_after_items"), taken)).WaitAsync(Guard);

            Assert.Equal([0L, 1], taken);
            Assert.True(error.WorkerKilled);
            Assert.InRange(watch.Elapsed, HostileWorkerTests.CallTimeout - TimeSpan.FromMilliseconds(50), HostileWorkerTests.CallTimeout + TimeSpan.FromSeconds(15));
            await HostileWorkerTests.AssertReplacedAsync(pool, pid);
        });
    }

    [Fact]
    public async Task StreamThatIgnoresTheClose_IsKilledWhenTheConsumerLeaves_WorkerReplaced()
    {
        await HostileWorkerTests.WithPoolAsync(
            Logs.CreateFactory(),
            Mode,
            async pool =>
            {
                int pid = await pool.CallAsync<int>(Module, "pid").WaitAsync(Guard);
                await Task.Run(async () =>
                {
                    await foreach (var item in pool.StreamAsync<long>(Module, "stream_window_then_hang"))
                    {
                        break; // the close goes unanswered: the grace period, an ignored interrupt, then the kill
                    }
                }).WaitAsync(Guard);

                await HostileWorkerTests.AssertReplacedAsync(pool, pid);
            },
            options => options.CancelGracePeriod = TimeSpan.FromMilliseconds(500));
    }
}
