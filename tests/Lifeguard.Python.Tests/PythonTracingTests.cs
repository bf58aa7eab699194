using System.Diagnostics;
using System.Text.Json;
using Lifeguard.Testing;

namespace Lifeguard.Python.Tests;

/// <summary>
/// Spans across the pipe: the call's span, the worker start span, and the spans Python opens with
/// <c>lifeguard.span</c>, recorded as the call span's children. Real python3 workers on python/tracing.py. The
/// listeners sample only their own test's trace; this class's tests run one at a time, so the test without a listener
/// sees none of theirs.
/// </summary>
public sealed class PythonTracingTests : PythonTestBase
{
    [Fact]
    public async Task Call_Listened_CheckoutAndCallSpansUnderTheCallersActivity()
    {
        using var recorder = new ActivityRecorder();
        await using var pool = await PythonPool.StartAsync(Options("trace-call"));
        int pid = await pool.CallAsync<int>("os", "getpid");

        Assert.Equal(49, await pool.CallAsync<int>("tracing", "square", [7]));

        var call = recorder.Single("tracing.square");
        Assert.Equal(recorder.Root.SpanId, call.ParentSpanId);
        Assert.Equal("trace-call", call.GetTagItem("lifeguard.pool.name"));
        Assert.Equal(pid, call.GetTagItem("process.pid"));
        Assert.Equal("tracing", call.GetTagItem("lifeguard.python.module"));
        Assert.Equal("square", call.GetTagItem("lifeguard.python.function"));
        Assert.Equal("ok", call.GetTagItem("lifeguard.python.outcome"));
        Assert.Equal(ActivityStatusCode.Unset, call.Status);
        Assert.Null(call.GetTagItem("error.type"));

        var checkouts = recorder.Named("lifeguard.checkout");
        Assert.Equal(2, checkouts.Count);
        Assert.All(checkouts, c =>
        {
            Assert.Equal(recorder.Root.SpanId, c.ParentSpanId);
            Assert.Equal("trace-call", c.GetTagItem("lifeguard.pool.name"));
            Assert.IsType<double>(c.GetTagItem("lifeguard.checkout.wait"));
        });
        Assert.True(checkouts[1].StartTimeUtc <= call.StartTimeUtc, "the checkout comes before the call");
    }

    [Fact]
    public async Task Call_PythonRaises_CallSpanHasPythonsErrorType()
    {
        using var recorder = new ActivityRecorder();
        await using var pool = await PythonPool.StartAsync(Options("trace-error"));

        await Assert.ThrowsAsync<PythonException>(() => pool.CallAsync<int>("tracing", "failing"));

        var call = recorder.Single("tracing.failing");
        Assert.Equal("error", call.GetTagItem("lifeguard.python.outcome"));
        Assert.Equal("ValueError", call.GetTagItem("error.type"));
        Assert.Equal(ActivityStatusCode.Error, call.Status);
        Assert.Contains("bad input", call.StatusDescription, StringComparison.Ordinal);

        // The span the exception left: failed, with the exception as an event, under the call's span.
        var boom = recorder.Single("boom");
        Assert.Equal(call.SpanId, boom.ParentSpanId);
        Assert.Equal(ActivityStatusCode.Error, boom.Status);
        Assert.Equal("ValueError", boom.GetTagItem("error.type"));
        var exception = Assert.Single(boom.Events);
        Assert.Equal("exception", exception.Name);
        Assert.Equal("bad input", exception.Tags.Single(t => t.Key == "exception.message").Value);
    }

    [Fact]
    public async Task Call_TimesOut_CallSpanSaysTimeout()
    {
        using var recorder = new ActivityRecorder();
        var options = TimeoutOptions("trace-timeout");
        options.CallTimeout = TimeSpan.FromMilliseconds(500);
        await using var pool = await PythonPool.StartAsync(options);

        await Assert.ThrowsAsync<PythonCallTimeoutException>(() => pool.CallAsync<int>("fixtures", "sleep", [30]));

        var call = recorder.Single("fixtures.sleep");
        Assert.Equal("timeout", call.GetTagItem("lifeguard.python.outcome"));
        Assert.Equal(typeof(PythonCallTimeoutException).FullName, call.GetTagItem("error.type"));
    }

    [Fact]
    public async Task WorkerStart_Listened_SpanWithPoolPidAndPythonVersion()
    {
        using var recorder = new ActivityRecorder();
        await using var pool = await PythonPool.StartAsync(Options("trace-start"));
        await using var lease = await pool.CheckoutAsync();

        var start = recorder.Single("lifeguard.worker.start");
        Assert.Equal(recorder.Root.SpanId, start.ParentSpanId);
        Assert.Equal("trace-start", start.GetTagItem("lifeguard.pool.name"));
        Assert.Equal(lease.Worker.ProcessId, start.GetTagItem("process.pid"));
        Assert.Equal(lease.Worker.PythonVersion, start.GetTagItem("process.runtime.version"));
        Assert.Equal(ActivityStatusCode.Unset, start.Status);
    }

    [Fact]
    public async Task PythonSpans_NestedUnderTheCallSpan_WithAttributesAndTimesInsideTheCall()
    {
        using var recorder = new ActivityRecorder();
        await using var pool = await PythonPool.StartAsync(Options("trace-nested"));

        var result = await pool.CallAsync("tracing", "nested");

        var call = recorder.Single("tracing.nested");
        var outer = recorder.Single("outer");
        var inner = recorder.Single("inner");
        var sibling = recorder.Single("sibling");
        Assert.Equal(call.SpanId, outer.ParentSpanId);
        Assert.Equal(outer.SpanId, inner.ParentSpanId);
        Assert.Equal(outer.SpanId, sibling.ParentSpanId);
        Assert.All(new[] { outer, inner, sibling }, s =>
        {
            Assert.Equal(call.TraceId, s.TraceId);
            Assert.Equal(ActivityStatusCode.Unset, s.Status);
            Assert.InRange(s.StartTimeUtc, call.StartTimeUtc, call.StartTimeUtc + call.Duration);
            Assert.InRange(s.StartTimeUtc + s.Duration, s.StartTimeUtc, call.StartTimeUtc + call.Duration);
        });
        Assert.True(inner.StartTimeUtc >= outer.StartTimeUtc && sibling.StartTimeUtc >= inner.StartTimeUtc + inner.Duration);
        Assert.Equal(3L, outer.GetTagItem("rows"));
        Assert.Equal(0.5, outer.GetTagItem("ratio"));
        Assert.Equal(true, outer.GetTagItem("ok"));
        Assert.Equal("x", outer.GetTagItem("label"));
        Assert.Equal(1L, inner.GetTagItem("step"));
        Assert.Null(call.GetTagItem("lifeguard.python.spans_dropped"));
        Assert.Null(call.GetTagItem("lifeguard.python.attributes_dropped"));

        // Python saw itself recording, under the call's span; the span opened at import time recorded nothing.
        Assert.True(result.GetProperty("recording").GetBoolean());
        Assert.Equal(call.Id, result.GetProperty("traceparent").GetString());
        Assert.False(result.GetProperty("import_recording").GetBoolean());
        Assert.Empty(recorder.Named("at-import"));
    }

    [Fact]
    public async Task PythonSpans_ExceptionCaughtInside_SpanFailedCallSucceeds()
    {
        using var recorder = new ActivityRecorder();
        await using var pool = await PythonPool.StartAsync(Options("trace-caught"));

        Assert.Equal(1, await pool.CallAsync<int>("tracing", "caught"));

        Assert.Equal("ok", recorder.Single("tracing.caught").GetTagItem("lifeguard.python.outcome"));
        var span = recorder.Single("inner-fail");
        Assert.Equal(ActivityStatusCode.Error, span.Status);
        Assert.Equal("KeyError", span.GetTagItem("error.type"));
    }

    [Fact]
    public async Task PythonSpans_MoreThan64_The64FirstKeptAndTheRestCounted()
    {
        using var recorder = new ActivityRecorder();
        await using var pool = await PythonPool.StartAsync(Options("trace-many"));

        Assert.Equal(70, await pool.CallAsync<int>("tracing", "many", [70]));

        var call = recorder.Single("tracing.many");
        var children = recorder.Stopped.Where(a => a.ParentSpanId == call.SpanId).ToList();
        Assert.Equal(64, children.Count);
        Assert.Equal(Enumerable.Range(0, 64).Select(i => "s" + i).ToHashSet(), children.Select(c => c.OperationName).ToHashSet());
        Assert.Equal(6L, call.GetTagItem("lifeguard.python.spans_dropped"));

        // The next call starts from zero.
        Assert.Equal(3, await pool.CallAsync<int>("tracing", "many", [3]));
        var second = recorder.Named("tracing.many")[1];
        Assert.Equal(3, recorder.Stopped.Count(a => a.ParentSpanId == second.SpanId));
        Assert.Null(second.GetTagItem("lifeguard.python.spans_dropped"));
    }

    [Fact]
    public async Task PythonSpans_AttributesPast1KiBOrOfOtherTypes_DroppedAndCounted()
    {
        using var recorder = new ActivityRecorder();
        await using var pool = await PythonPool.StartAsync(Options("trace-big"));

        Assert.Equal(0, await pool.CallAsync<int>("tracing", "big_attributes"));

        var big = recorder.Single("big");
        Assert.Equal(1L, big.GetTagItem("small"));
        Assert.Equal(new string('y', 600), big.GetTagItem("also"));
        Assert.Null(big.GetTagItem("huge"));
        Assert.Null(big.GetTagItem("listed"));
        Assert.Null(big.GetTagItem("more"));
        Assert.Equal(3L, recorder.Single("tracing.big_attributes").GetTagItem("lifeguard.python.attributes_dropped"));
    }

    [Fact]
    public async Task PythonSpans_OnAnotherThreadAndInTasks_RecordedWithTheirParents()
    {
        using var recorder = new ActivityRecorder();
        await using var pool = await PythonPool.StartAsync(Options("trace-threads"));

        Assert.Equal(0, await pool.CallAsync<int>("tracing", "on_thread"));
        Assert.Equal(0, await pool.CallAsync<int>("tracing", "in_tasks"));

        // A thread does not inherit the span open where it was started: its spans hang from the call's.
        var threadCall = recorder.Single("tracing.on_thread");
        Assert.Equal(threadCall.SpanId, recorder.Single("main").ParentSpanId);
        Assert.Equal(threadCall.SpanId, recorder.Single("on-thread").ParentSpanId);

        // asyncio tasks copy the context: each step under "gather", each child under its step.
        var gather = recorder.Single("gather");
        Assert.Equal(recorder.Single("tracing.in_tasks").SpanId, gather.ParentSpanId);
        foreach (var step in new[] { "a", "b" })
        {
            Assert.Equal(gather.SpanId, recorder.Single(step).ParentSpanId);
            Assert.Equal(recorder.Single(step).SpanId, recorder.Single(step + "-child").ParentSpanId);
        }
    }

    [Fact]
    public async Task PythonSpans_LeftOpen_SentEndedAtTheReplyAndMarkedUnfinished()
    {
        using var recorder = new ActivityRecorder();
        await using var pool = await PythonPool.StartAsync(Options("trace-open"));

        Assert.Equal(0, await pool.CallAsync<int>("tracing", "left_open"));
        Assert.Equal(49, await pool.CallAsync<int>("tracing", "square", [7]));

        var call = recorder.Single("tracing.left_open");
        var open = recorder.Single("left-open");
        Assert.Equal(call.SpanId, open.ParentSpanId);
        Assert.Equal(true, open.GetTagItem("lifeguard.python.unfinished"));

        // The span still "open" in Python belongs to the old call: the next call's spans do not hang from it.
        var square = recorder.Single("tracing.square");
        Assert.DoesNotContain(recorder.Stopped, a => a.ParentSpanId == square.SpanId);
    }

    [Fact]
    public async Task NoListener_NoTraceparentNoSpansNoActivity()
    {
        var options = Options("trace-none");
        Activity? seen = null;
        options.Callbacks["current"] = (_, _) =>
        {
            seen = Activity.Current;
            return ValueTask.FromResult<object?>(Activity.Current?.Id);
        };
        await using var pool = await PythonPool.StartAsync(options);
        using (var probe = new ActivitySource("Lifeguard"))
        {
            Assert.False(probe.HasListeners());
        }

        var result = await pool.CallAsync("tracing", "probe");

        Assert.False(result.GetProperty("recording").GetBoolean());
        Assert.Equal(JsonValueKind.Null, result.GetProperty("tp").ValueKind);
        Assert.Equal(JsonValueKind.Null, result.GetProperty("host").ValueKind);
        Assert.Null(seen);
    }

    [Fact]
    public async Task Listened_CallbackRunsUnderTheCallSpan_AndPythonSeesItAsTraceparent()
    {
        using var recorder = new ActivityRecorder();
        var options = Options("trace-callback");
        options.Callbacks["current"] = (_, _) => ValueTask.FromResult<object?>(Activity.Current?.Id);
        await using var pool = await PythonPool.StartAsync(options);

        var result = await pool.CallAsync("tracing", "probe");

        var call = recorder.Single("tracing.probe");
        Assert.True(result.GetProperty("recording").GetBoolean());
        Assert.Equal(call.Id, result.GetProperty("tp").GetString());
        Assert.Equal(call.Id, result.GetProperty("host").GetString());
        Assert.Equal(call.SpanId, recorder.Single("probe").ParentSpanId);
    }
}
