using Lifeguard.Testing;
using Microsoft.Extensions.Time.Testing;

namespace Lifeguard.Tests;

/// <summary>The pool's event stream: every kind with its fields, ordering, slow and failing subscribers, unsubscribing.</summary>
public sealed class EventTests
{
    [Fact]
    public async Task Resize_Grow_PublishesResizedWithSourceThenWorkerStarted()
    {
        var time = new FakeTimeProvider(new DateTimeOffset(2026, 12, 1, 8, 0, 0, TimeSpan.Zero));
        var options = Scenario.Options(time, size: 1);
        await using var pool = await Pool.StartAsync(options, new FakeWorkerFactory());
        using var events = pool.SubscribeToEvents();

        pool.Resize(2, 1, "configuration");

        var seen = await events.ReadUntilAsync(e => e.Kind == PoolEventKind.WorkerStarted);
        var resized = seen[0];
        Assert.Equal(PoolEventKind.Resized, resized.Kind);
        Assert.Equal(options.Name, resized.PoolName);
        Assert.Equal(time.GetUtcNow(), resized.Time);
        Assert.Equal(2, resized.Size);
        Assert.Equal(1, resized.MaxOverflow);
        Assert.Equal("configuration", resized.Source);
        Assert.Null(resized.WorkerId);
        Assert.Contains("Size 2, MaxOverflow 1 (from 1, 0) by configuration", resized.Detail, StringComparison.Ordinal);
        var started = seen[^1];
        Assert.Equal(2, started.WorkerId);
        Assert.Null(started.ProcessId); // a core worker has none
        Assert.Null(started.StopReason);
        Assert.StartsWith("Worker 2 started in ", started.Detail, StringComparison.Ordinal);
        Assert.Equal([1L, 2L], seen.Select(e => e.Sequence));
        Assert.Equal(0, events.DroppedCount);
    }

    [Fact]
    public async Task Resize_WithoutSource_SourceIsNull()
    {
        await using var pool = await Pool.StartAsync(Scenario.Options(new FakeTimeProvider(), size: 1), new FakeWorkerFactory());
        using var events = pool.SubscribeToEvents();

        pool.Resize(1, 3);

        var resized = await events.NextAsync(PoolEventKind.Resized);
        Assert.Null(resized.Source);
        Assert.Equal(3, resized.MaxOverflow);
    }

    [Fact]
    public async Task ReportTerminated_WithExitDetails_WorkerDiedCarriesThemThenWorkerStoppedThenReplacementStarted()
    {
        var time = new FakeTimeProvider();
        var factory = new FakeWorkerFactory();
        await using var pool = await Pool.StartAsync(Scenario.Options(time, size: 1), factory);
        using var events = pool.SubscribeToEvents();
        var crash = new ProcessCrash("segfault", exitCode: 139, signal: 11, tail: ["line 1", "Segmentation fault"]);

        factory.All.Single().Die(crash);

        var seen = await events.ReadUntilAllAsync(PoolEventKind.WorkerDied, PoolEventKind.WorkerStopped, PoolEventKind.WorkerStarted);
        var died = seen.Single(e => e.Kind == PoolEventKind.WorkerDied);
        Assert.Equal(1, died.WorkerId);
        Assert.Equal(WorkerStopReason.Died, died.StopReason);
        Assert.Same(crash, died.Error);
        Assert.Equal(139, died.ExitCode);
        Assert.Equal(11, died.Signal);
        Assert.Equal(["line 1", "Segmentation fault"], died.OutputTail);
        Assert.Equal("Worker 1 died: killed by signal 11 (exit code 139).", died.Detail);
        var stopped = seen.Single(e => e.Kind == PoolEventKind.WorkerStopped);
        Assert.Equal(1, stopped.WorkerId);
        Assert.Equal(WorkerStopReason.Died, stopped.StopReason);
        Assert.True(stopped.Sequence > died.Sequence, "a worker's stop comes after its death");
        Assert.Equal(2, seen.Single(e => e.Kind == PoolEventKind.WorkerStarted).WorkerId);
    }

    [Fact]
    public async Task ReportTerminated_PlainException_WorkerDiedHasItsMessageAndNoExitDetails()
    {
        var factory = new FakeWorkerFactory();
        await using var pool = await Pool.StartAsync(Scenario.Options(new FakeTimeProvider(), size: 1), factory);
        using var events = pool.SubscribeToEvents();

        factory.All.Single().Die(new InvalidOperationException("connection reset\nmore"));

        var died = await events.NextAsync(PoolEventKind.WorkerDied);
        Assert.Null(died.ExitCode);
        Assert.Null(died.Signal);
        Assert.Empty(died.OutputTail);
        Assert.Equal("Worker 1 died: connection reset …", died.Detail);
    }

    [Fact]
    public async Task FailedValidation_PublishesWorkerDied()
    {
        var factory = new ValidatingFakeWorkerFactory();
        await using var pool = await Pool.StartAsync(Scenario.Options(new FakeTimeProvider(), size: 1), factory);
        using var events = pool.SubscribeToEvents();
        factory.All.Single().Healthy = false;

        using (await pool.CheckoutAsync())
        {
        }

        var died = await events.NextAsync(PoolEventKind.WorkerDied);
        Assert.Equal(1, died.WorkerId);
        Assert.Equal(WorkerStopReason.Died, died.StopReason);
        Assert.Contains("failed validation", died.Error!.Message, StringComparison.Ordinal);
    }

    [Fact]
    public async Task RecycleAll_PublishesRecycleRequestedAndWorkerRecycledForEachWorker()
    {
        var factory = new FakeWorkerFactory();
        await using var pool = await Pool.StartAsync(Scenario.Options(new FakeTimeProvider(), size: 2), factory);
        using var events = pool.SubscribeToEvents();

        pool.RecycleAll("deploy");

        var seen = await events.ReadUntilAsync(
            (e, all) => all.Count(x => x.Kind == PoolEventKind.WorkerStopped) == 2 && all.Count(x => x.Kind == PoolEventKind.WorkerStarted) == 2);
        var requested = seen[0];
        Assert.Equal(PoolEventKind.RecycleRequested, requested.Kind);
        Assert.Equal("deploy", requested.Source);
        Assert.Equal(
            [1, 2],
            seen.Where(e => e.Kind == PoolEventKind.WorkerRecycled).Select(e => e.WorkerId!.Value).Order());
        Assert.All(seen.Where(e => e.Kind is PoolEventKind.WorkerRecycled or PoolEventKind.WorkerStopped), e => Assert.Equal(WorkerStopReason.Retired, e.StopReason));
    }

    [Fact]
    public async Task MaxUses_RetiredAtCheckin_PublishesWorkerRecycled()
    {
        var options = Scenario.Options(new FakeTimeProvider(), size: 1);
        options.MaxUsesPerWorker = 1;
        await using var pool = await Pool.StartAsync(options, new FakeWorkerFactory());
        using var events = pool.SubscribeToEvents();

        using (await pool.CheckoutAsync())
        {
        }

        var recycled = await events.NextAsync(PoolEventKind.WorkerRecycled);
        Assert.Equal(1, recycled.WorkerId);
    }

    [Fact]
    public async Task Checkin_SurplusOverflowWorker_PublishesWorkerDismissed()
    {
        var factory = new FakeWorkerFactory();
        await using var pool = await Pool.StartAsync(Scenario.Options(new FakeTimeProvider(), size: 1, maxOverflow: 1), factory);
        using var a = await pool.CheckoutAsync();
        var b = await pool.CheckoutAsync();
        using var events = pool.SubscribeToEvents();

        b.Dispose();

        var seen = await events.ReadUntilAllAsync(PoolEventKind.WorkerDismissed, PoolEventKind.WorkerStopped);
        Assert.Equal(2, seen.Single(e => e.Kind == PoolEventKind.WorkerDismissed).WorkerId);
        Assert.Equal(WorkerStopReason.Dismissed, seen.Single(e => e.Kind == PoolEventKind.WorkerStopped).StopReason);
    }

    [Fact]
    public async Task MarkBroken_PublishesOnlyWorkerStoppedWithBroken()
    {
        var factory = new FakeWorkerFactory();
        await using var pool = await Pool.StartAsync(Scenario.Options(new FakeTimeProvider(), size: 1), factory);
        using var events = pool.SubscribeToEvents();

        var lease = await pool.CheckoutAsync();
        lease.MarkBroken();
        lease.Dispose();

        var seen = await events.ReadUntilAllAsync(PoolEventKind.WorkerStopped, PoolEventKind.WorkerStarted);
        Assert.Equal(WorkerStopReason.Broken, seen.Single(e => e.Kind == PoolEventKind.WorkerStopped).StopReason);
        Assert.DoesNotContain(seen, e => e.Kind is PoolEventKind.WorkerDied or PoolEventKind.WorkerRecycled or PoolEventKind.WorkerDismissed);
    }

    [Fact]
    public async Task Backoff_PublishesStartFailuresBackoffEnteredAndBackoffEnded()
    {
        var time = new FakeTimeProvider();
        var factory = new FakeWorkerFactory();
        var options = Scenario.Options(time, size: 1);
        options.MaxRestarts = 1;
        await using var pool = await Pool.StartAsync(options, factory);
        using var events = pool.SubscribeToEvents();
        var boom = new InvalidOperationException("cannot start");
        factory.FailStart = _ => boom;

        factory.All.Single().Die();
        var entering = await events.ReadUntilAsync(e => e.Kind == PoolEventKind.BackoffEntered);
        factory.FailStart = null;
        time.Advance(options.BackoffMaxDelay);
        var ending = await events.ReadUntilAsync(e => e.Kind == PoolEventKind.BackoffEnded);

        var failed = entering.First(e => e.Kind == PoolEventKind.WorkerStartFailed);
        Assert.Same(boom, failed.Error);
        Assert.Equal(2, failed.WorkerId);
        Assert.Equal("Worker 2 failed to start: cannot start", failed.Detail);
        var entered = entering[^1];
        Assert.IsType<WorkerStartException>(entered.Error);
        Assert.Null(entered.WorkerId);
        Assert.Contains("more than 1 worker failures", entered.Detail, StringComparison.Ordinal);
        Assert.Contains(ending, e => e.Kind == PoolEventKind.WorkerStarted);
        Assert.Equal(PoolState.Ready, pool.GetStatus().State);
    }

    [Fact]
    public async Task StopAsync_PublishesStoppingEveryWorkerStoppedThenStoppedAndCompletes()
    {
        var factory = new FakeWorkerFactory();
        var pool = await Pool.StartAsync(Scenario.Options(new FakeTimeProvider(), size: 2), factory);
        var events = pool.SubscribeToEvents();

        await pool.StopAsync();

        var seen = await events.ReadAllAsync();
        Assert.Equal(PoolEventKind.PoolStopping, seen[0].Kind);
        Assert.Equal(PoolEventKind.PoolStopped, seen[^1].Kind);
        Assert.Equal(
            [1, 2],
            seen.Where(e => e.Kind == PoolEventKind.WorkerStopped).Select(e => e.WorkerId!.Value).Order());
        Assert.All(seen.Where(e => e.Kind == PoolEventKind.WorkerStopped), e => Assert.Equal(WorkerStopReason.PoolStopped, e.StopReason));
        Assert.True(events.Reader.Completion.IsCompleted);

        using var late = pool.SubscribeToEvents();
        Assert.True(late.Reader.Completion.IsCompleted, "a stopped pool's subscription is complete at once");
    }

    [Fact]
    public async Task StopWorker_FactoryStopThrows_WorkerStoppedCarriesTheError()
    {
        var boom = new IOException("stop failed");
        var factory = WorkerFactory.Create((ctx, _) => new ValueTask<FakeWorker>(new FakeWorker(ctx)), _ => throw boom);
        await using var pool = await Pool.StartAsync(Scenario.Options(new FakeTimeProvider(), size: 1), factory);
        using var events = pool.SubscribeToEvents();

        var lease = await pool.CheckoutAsync();
        lease.MarkBroken();
        lease.Dispose();

        var stopped = await events.NextAsync(PoolEventKind.WorkerStopped);
        Assert.Same(boom, stopped.Error);
        Assert.Contains("its stop failed: stop failed", stopped.Detail, StringComparison.Ordinal);
    }

    [Fact]
    public async Task NoSubscriber_TransitionsNeverReadTheWallClock()
    {
        var time = new CountingTimeProvider();
        var factory = new FakeWorkerFactory();
        var options = Scenario.Options(time, size: 1, maxOverflow: 1);
        options.MaxUsesPerWorker = 3;
        await using var pool = await Pool.StartAsync(options, factory);

        for (int i = 0; i < 10; i++)
        {
            using var lease = await pool.CheckoutAsync();
        }

        factory.All.Last().Die();
        pool.Resize(2, 1, "test");
        pool.RecycleAll();
        await Scenario.Until(() => pool.GetStatus().Idle == 2, "the pool settles");

        Assert.Equal(0, time.UtcNowReads); // an event reads it; nothing else in the pool does
        using var events = pool.SubscribeToEvents();
        pool.Resize(2, 0);
        await events.NextAsync(PoolEventKind.Resized);
        Assert.True(time.UtcNowReads > 0, "a subscribed pool times its events by the pool's clock");
    }

    [Fact]
    public async Task Subscribed_CheckoutAndCheckinOfAnIdleWorker_AllocateNothingAndPublishNothing()
    {
        await using var pool = await Pool.StartAsync(Scenario.Options(new FakeTimeProvider(), size: 1), new FakeWorkerFactory());
        using var events = pool.SubscribeToEvents();
        Pairs(pool, 100); // warm up

        long before = GC.GetAllocatedBytesForCurrentThread();
        Pairs(pool, 1000);
        long allocated = GC.GetAllocatedBytesForCurrentThread() - before;

        Assert.Equal(0, allocated);
        Assert.False(events.Reader.TryRead(out var unexpected), $"no event for a plain checkout and checkin: {unexpected}");
    }

    [Fact]
    public async Task SlowSubscriber_BufferFull_OldestDroppedAndCountedPoolUnaffected()
    {
        await using var pool = await Pool.StartAsync(Scenario.Options(new FakeTimeProvider(), size: 1), new FakeWorkerFactory());
        using var slow = pool.SubscribeToEvents(capacity: 4);
        using var keeping = pool.SubscribeToEvents(capacity: 100);

        for (int i = 1; i <= 50; i++)
        {
            pool.Resize(1, i % 3); // each publishes one event synchronously; the slow subscriber never reads
        }

        using (var lease = await pool.CheckoutAsync())
        {
            Assert.Equal(1, lease.WorkerId);
        }

        Assert.Equal(46, slow.DroppedCount);
        var kept = await slow.DrainAsync();
        Assert.Equal([47L, 48L, 49L, 50L], kept.Select(e => e.Sequence)); // the newest stay; the gap shows the drop
        Assert.Equal(0, keeping.DroppedCount);
        Assert.Equal(50, (await keeping.DrainAsync()).Count);
    }

    [Fact]
    public async Task SubscriberThrows_PoolAndOtherSubscribersUnaffected()
    {
        var factory = new FakeWorkerFactory();
        await using var pool = await Pool.StartAsync(Scenario.Options(new FakeTimeProvider(), size: 1), factory);
        using var failing = pool.SubscribeToEvents();
        using var healthy = pool.SubscribeToEvents();
        var subscriber = Task.Run(async () =>
        {
            await foreach (var e in failing.Reader.ReadAllAsync())
            {
                throw new InvalidOperationException($"subscriber bug on {e.Kind}");
            }
        });

        pool.Resize(1, 1);
        var error = await Assert.ThrowsAsync<InvalidOperationException>(() => subscriber);

        Assert.Contains("Resized", error.Message, StringComparison.Ordinal);
        factory.All.Single().Die();
        var seen = await healthy.ReadUntilAsync(e => e.Kind == PoolEventKind.WorkerStarted);
        Assert.Equal(PoolEventKind.Resized, seen[0].Kind);
        using var lease = await pool.CheckoutAsync();
        Assert.Equal(2, lease.WorkerId);
    }

    [Fact]
    public async Task Dispose_Subscription_ReaderCompletesAndNoMoreEventsArrive()
    {
        await using var pool = await Pool.StartAsync(Scenario.Options(new FakeTimeProvider(), size: 1), new FakeWorkerFactory());
        var events = pool.SubscribeToEvents();
        var hub = ((IPoolEventSource)pool).EventHub;
        pool.Resize(1, 1);
        Assert.True(hub.IsActive);

        events.Dispose();
        pool.Resize(1, 2);

        Assert.False(hub.IsActive, "an unsubscribed pool builds no events");
        var left = await events.ReadAllAsync();
        Assert.Equal(PoolEventKind.Resized, Assert.Single(left).Kind); // buffered before the dispose: still readable
        Assert.Equal(1, Assert.Single(left).MaxOverflow);
        Assert.True(events.Reader.Completion.IsCompleted);
        events.Dispose(); // twice is fine
    }

    [Fact]
    public async Task SubscribeToEvents_CapacityBelowOne_Throws()
    {
        await using var pool = await Pool.StartAsync(Scenario.Options(new FakeTimeProvider(), size: 1), new FakeWorkerFactory());

        Assert.Throws<ArgumentOutOfRangeException>(() => pool.SubscribeToEvents(0));
    }

    [Fact]
    public async Task WorkerStatus_TypedFacts_ComeFromTheProvider()
    {
        var time = new FakeTimeProvider();
        var factory = WorkerFactory.Create((ctx, _) => new ValueTask<ProcessLikeWorker>(new ProcessLikeWorker(4242 + ctx.WorkerId).Attach(ctx)));
        await using var pool = await Pool.StartAsync(Scenario.Options(time, size: 2), factory);
        using var events = pool.SubscribeToEvents();
        using var lease = await pool.CheckoutAsync();
        lease.Worker.Call = new WorkerCall("mod.fn", TimeSpan.FromSeconds(3));

        var status = pool.GetStatus();

        var busy = status.Workers.Single(w => w.State == WorkerState.Busy);
        Assert.Equal(4242 + busy.Id, busy.ProcessId);
        Assert.Equal(123_456L, busy.ResidentMemoryBytes);
        Assert.Equal(new WorkerCall("mod.fn", TimeSpan.FromSeconds(3)), busy.CurrentCall);
        Assert.Equal([$"line of {busy.Id}"], busy.OutputTail);
        var idle = status.Workers.Single(w => w.State == WorkerState.Idle);
        Assert.Null(idle.CurrentCall);
        Assert.Equal(4242 + idle.Id, idle.ProcessId);

        // The pid is in the events too.
        lease.Worker.Context!.ReportTerminated();
        var died = await events.NextAsync(PoolEventKind.WorkerDied);
        Assert.Equal(4242 + busy.Id, died.ProcessId);
        Assert.StartsWith($"Worker {busy.Id} (pid {4242 + busy.Id}) died", died.Detail, StringComparison.Ordinal);
    }

    [Fact]
    public async Task WorkerStatus_CoreWorkerWithoutTypedFacts_AllNull()
    {
        await using var pool = await Pool.StartAsync(Scenario.Options(new FakeTimeProvider(), size: 1), new FakeWorkerFactory());

        var worker = pool.GetStatus().Workers.Single();

        Assert.Null(worker.ProcessId);
        Assert.Null(worker.ResidentMemoryBytes);
        Assert.Null(worker.CurrentCall);
        Assert.Empty(worker.OutputTail);
        Assert.Equal(0, worker.Details["fake.calls"]);
    }

    /// <summary>Checkout and checkin pairs on the synchronous fast path (an idle worker is always there).</summary>
    private static void Pairs(Pool<FakeWorker> pool, int count)
    {
        for (int i = 0; i < count; i++)
        {
            var pending = pool.CheckoutAsync();
            Assert.True(pending.IsCompletedSuccessfully);
#pragma warning disable CA1849, VSTHRD002 // completed synchronously, checked just above
            pending.Result.Dispose();
#pragma warning restore CA1849, VSTHRD002
        }
    }

    /// <summary>A worker that reports typed facts as a process worker would.</summary>
    private sealed class ProcessLikeWorker(int pid) : IWorkerStatusProvider
    {
        public WorkerContext? Context { get; private set; }

        public WorkerCall? Call { get; set; }

        int? IWorkerStatusProvider.ProcessId => pid;

        public void AddStatusDetails(IDictionary<string, object?> details) => details["kind"] = "process-like";

        long? IWorkerStatusProvider.GetResidentMemoryBytes() => 123_456;

        WorkerCall? IWorkerStatusProvider.GetCurrentCall() => Call;

        IReadOnlyList<string> IWorkerStatusProvider.GetOutputTail() => [$"line of {Context!.WorkerId}"];

        public ProcessLikeWorker Attach(WorkerContext context)
        {
            Context = context;
            return this;
        }
    }
}
