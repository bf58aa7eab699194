using System.Text.Json;
using Lifeguard.Python;
using Lifeguard.Testing;

namespace Lifeguard.Reliability.Tests;

/// <summary>
/// Span data from a hostile worker (python/hostile_worker.py): whatever is wrong with it is skipped and counted on the
/// call's span, the call still returns its result and the worker is kept; only a spans frame of another call breaks
/// the protocol. The listeners sample only their own test's trace.
/// </summary>
public class HostileWorkerSpanTests : ReliabilityTestBase
{
    private const string Module = HostileWorkerTests.Module;

    /// <summary>How this class's pools start their workers.</summary>
    protected virtual PythonStartMode Mode => PythonStartMode.Spawn;

    [Theory]
    [InlineData("spans_invalid_json")]
    [InlineData("spans_not_object")]
    [InlineData("spans_no_list")]
    [InlineData("spans_deep")]
    public async Task MalformedSpanFrame_IgnoredAndCounted_CallAndWorkerKept(string function)
    {
        await HostileWorkerTests.WithPoolAsync(Logs.CreateFactory(), Mode, async pool =>
        {
            int pid = await pool.CallAsync<int>(Module, "pid").WaitAsync(HostileWorkerTests.Guard);
            using var recorder = new ActivityRecorder();

            Assert.Equal("ok", await pool.CallAsync<string>(Module, function).WaitAsync(HostileWorkerTests.Guard));

            var call = recorder.Single($"{Module}.{function}");
            Assert.Equal("ok", call.GetTagItem("lifeguard.python.outcome"));
            Assert.Equal(1L, call.GetTagItem("lifeguard.python.spans_invalid"));
            Assert.DoesNotContain(recorder.Stopped, a => a.ParentSpanId == call.SpanId);
            Assert.Equal(pid, await pool.CallAsync<int>(Module, "pid").WaitAsync(HostileWorkerTests.Guard));
            Assert.Equal(0, pool.GetStatus().TotalDeaths);
        });
    }

    [Fact]
    public async Task BadSpanEntries_EachSkippedAndCounted_TheSoundOnesRecordedWithTheirParents()
    {
        await HostileWorkerTests.WithPoolAsync(Logs.CreateFactory(), Mode, async pool =>
        {
            using var recorder = new ActivityRecorder();

            Assert.Equal("ok", await pool.CallAsync<string>(Module, "spans_bad_entries").WaitAsync(HostileWorkerTests.Guard));

            var call = recorder.Single($"{Module}.spans_bad_entries");
            var children = recorder.Stopped.Where(a => a.TraceId == call.TraceId && a != call && a.OperationName != "lifeguard.checkout").ToList();
            Assert.Equal(["good", "child", "orphan", "oversized"], children.Select(c => c.OperationName));
            var good = recorder.Single("good");
            Assert.Equal(call.SpanId, good.ParentSpanId);
            Assert.Equal(good.SpanId, recorder.Single("child").ParentSpanId);
            Assert.Equal(call.SpanId, recorder.Single("orphan").ParentSpanId);
            Assert.Equal(1L, good.GetTagItem("n"));
            Assert.Equal("v", good.GetTagItem("s"));
            Assert.Equal(2, good.TagObjects.Count());
            Assert.Empty(recorder.Single("oversized").TagObjects);

            // 9 entries refused and a negative count; 4 attributes of other types and the 2 of an oversized set.
            Assert.Equal(10L, call.GetTagItem("lifeguard.python.spans_invalid"));
            Assert.Equal(6L, call.GetTagItem("lifeguard.python.attributes_dropped"));
            Assert.Null(call.GetTagItem("lifeguard.python.spans_dropped"));
            Assert.Equal(0, pool.GetStatus().TotalDeaths);
        });
    }

    [Fact]
    public async Task SpanFlood_64KeptAndTheRestCountedAsDropped()
    {
        await HostileWorkerTests.WithPoolAsync(Logs.CreateFactory(), Mode, async pool =>
        {
            using var recorder = new ActivityRecorder();

            Assert.Equal("ok", await pool.CallAsync<string>(Module, "spans_flood").WaitAsync(HostileWorkerTests.Guard));

            var call = recorder.Single($"{Module}.spans_flood");
            Assert.Equal(64, recorder.Named("flood").Count);
            Assert.Equal(136L, call.GetTagItem("lifeguard.python.spans_dropped"));
        });
    }

    [Fact]
    public async Task ExtremeTimes_ClampedIntoTheCallsSpan()
    {
        await HostileWorkerTests.WithPoolAsync(Logs.CreateFactory(), Mode, async pool =>
        {
            using var recorder = new ActivityRecorder();

            Assert.Equal("ok", await pool.CallAsync<string>(Module, "spans_extreme_times").WaitAsync(HostileWorkerTests.Guard));

            var call = recorder.Single($"{Module}.spans_extreme_times");
            var callEnd = call.StartTimeUtc + call.Duration;
            foreach (var name in new[] { "early", "late" })
            {
                var span = recorder.Single(name);
                Assert.InRange(span.StartTimeUtc, call.StartTimeUtc, callEnd);
                Assert.InRange(span.StartTimeUtc + span.Duration, span.StartTimeUtc, callEnd);
            }
        });
    }

    [Fact]
    public async Task SpanDataNotAskedFor_Ignored_CallAndWorkerKept()
    {
        // No listener: the call does not ask for spans, and the frame the worker sends anyway is dropped.
        await HostileWorkerTests.WithPoolAsync(Logs.CreateFactory(), Mode, async pool =>
        {
            int pid = await pool.CallAsync<int>(Module, "pid").WaitAsync(HostileWorkerTests.Guard);
            Assert.Equal("ok", await pool.CallAsync<string>(Module, "spans_flood").WaitAsync(HostileWorkerTests.Guard));
            Assert.Equal(pid, await pool.CallAsync<int>(Module, "pid").WaitAsync(HostileWorkerTests.Guard));
        });
    }

    [Fact]
    public async Task SpanFrameOfAnotherCall_ProtocolViolationAndWorkerReplaced()
    {
        await HostileWorkerTests.WithPoolAsync(Logs.CreateFactory(), Mode, async pool =>
        {
            int pid = await pool.CallAsync<int>(Module, "pid").WaitAsync(HostileWorkerTests.Guard);
            using var recorder = new ActivityRecorder();
            var error = await Assert.ThrowsAsync<PythonProtocolException>(() => pool.CallAsync<string>(Module, "spans_wrong_id").WaitAsync(HostileWorkerTests.Guard));
            Assert.Contains("got a Spans frame with id 1002", error.Message, StringComparison.Ordinal);
            Assert.Equal("protocol_error", recorder.Single($"{Module}.spans_wrong_id").GetTagItem("lifeguard.python.outcome"));
            await HostileWorkerTests.AssertReplacedAsync(pool, pid);
        });
    }

    [Fact]
    public async Task CallFrame_AsksForSpansOnlyWhenListenedAndTheWorkerCan()
    {
        await HostileWorkerTests.WithPoolAsync(Logs.CreateFactory(), Mode, async pool =>
        {
            var quiet = JsonDocument.Parse(await pool.CallAsync<string>(Module, "call_json").WaitAsync(HostileWorkerTests.Guard) ?? "").RootElement;
            Assert.False(quiet.TryGetProperty("sp", out _));
            Assert.False(quiet.TryGetProperty("tp", out _));

            using var recorder = new ActivityRecorder();
            var traced = JsonDocument.Parse(await pool.CallAsync<string>(Module, "call_json").WaitAsync(HostileWorkerTests.Guard) ?? "").RootElement;
            Assert.True(traced.GetProperty("sp").GetBoolean());
            Assert.Equal(recorder.Named($"{Module}.call_json").Single().Id, traced.GetProperty("tp").GetString());
        });
    }

    [Fact]
    public async Task Protocol1Worker_ServedAndNeverAskedForSpans()
    {
        await HostileWorkerTests.WithPoolAsync(Logs.CreateFactory(), Mode, async pool =>
        {
            using var recorder = new ActivityRecorder();
            var traced = JsonDocument.Parse(await pool.CallAsync<string>(Module, "call_json").WaitAsync(HostileWorkerTests.Guard) ?? "").RootElement;
            Assert.False(traced.TryGetProperty("sp", out _));
            Assert.Equal(recorder.Single($"{Module}.call_json").Id, traced.GetProperty("tp").GetString());
        }, hostileCase: "start_v1");
    }
}
