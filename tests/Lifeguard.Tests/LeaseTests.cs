using System.Runtime.CompilerServices;
using Lifeguard.Testing;
using Microsoft.Extensions.Time.Testing;

namespace Lifeguard.Tests;

public sealed class LeaseTests
{
    [Fact]
    public async Task RunAsync_WorkSucceeds_ReturnsItsResultAndChecksIn()
    {
        var time = new FakeTimeProvider();
        var factory = new FakeWorkerFactory();
        await using var pool = await Pool.StartAsync(Scenario.Options(time, size: 1), factory);

        var result = await pool.RunAsync((worker, ct) => worker.SquareAsync(7, ct));

        Assert.Equal(49, result);
        Assert.Equal(1, factory.All.Single().Calls);
        var status = pool.GetStatus().Consistent();
        Assert.Equal(1, status.Idle);
        Assert.Equal(1, status.TotalCheckouts);
    }

    [Fact]
    public async Task RunAsync_WorkThrows_ChecksInAndRethrows()
    {
        var time = new FakeTimeProvider();
        await using var pool = await Pool.StartAsync(Scenario.Options(time, size: 1), new FakeWorkerFactory());
        var boom = new InvalidOperationException("work failed");

        var ex = await Assert.ThrowsAsync<InvalidOperationException>(
            () => pool.RunAsync<int>(async (_, _) =>
            {
                await Task.Yield();
                throw boom;
            }));
        Assert.Same(boom, ex);
        Assert.Equal(1, pool.GetStatus().Consistent().Idle);

        await Assert.ThrowsAsync<InvalidOperationException>(() => pool.RunAsync((_, _) => throw boom));
        Assert.Equal(1, pool.GetStatus().Consistent().Idle);
    }

    [Fact]
    public async Task RunAsync_Canceled_ChecksIn()
    {
        var time = new FakeTimeProvider();
        await using var pool = await Pool.StartAsync(Scenario.Options(time, size: 1), new FakeWorkerFactory());
        using var cts = new CancellationTokenSource();
        var working = new TaskCompletionSource(TaskCreationOptions.RunContinuationsAsynchronously);

        var run = pool.RunAsync(
            async (_, ct) =>
            {
                working.SetResult();
                await Task.Delay(Timeout.InfiniteTimeSpan, ct);
                return 0;
            },
            cts.Token);
        await working.Task;
        Assert.Equal(1, pool.GetStatus().Busy);
        cts.Cancel();

        var ex = await Assert.ThrowsAnyAsync<OperationCanceledException>(() => run);
        Assert.Equal(cts.Token, ex.CancellationToken);
        Assert.Equal(1, pool.GetStatus().Consistent().Idle);
    }

    [Fact]
    public async Task RunAsync_CanceledWhileWaitingForAWorker_ThrowsAndLeavesThePoolAsItWas()
    {
        var time = new FakeTimeProvider();
        await using var pool = await Pool.StartAsync(Scenario.Options(time, size: 1), new FakeWorkerFactory());
        var held = await pool.CheckoutAsync();
        using var cts = new CancellationTokenSource();
        bool ran = false;

        var run = pool.RunAsync(
            (_, _) =>
            {
                ran = true;
                return Task.CompletedTask;
            },
            cts.Token);
        cts.Cancel();

        await Assert.ThrowsAnyAsync<OperationCanceledException>(() => run);
        Assert.False(ran);
        held.Dispose();
        AssertIdleWithoutWaiters(pool);
    }

    [Fact]
    public async Task RunAsync_WithCheckoutTimeout_TimesOutOnTheFakeClockWithoutRunningTheWork()
    {
        var time = new FakeTimeProvider();
        await using var pool = await Pool.StartAsync(Scenario.Options(time, size: 1), new FakeWorkerFactory());
        var held = await pool.CheckoutAsync();
        bool ran = false;

        var typed = pool.RunAsync(
            (worker, ct) =>
            {
                ran = true;
                return worker.SquareAsync(3, ct);
            },
            TimeSpan.FromSeconds(1));
        var untyped = pool.RunAsync(
            (_, _) =>
            {
                ran = true;
                return Task.CompletedTask;
            },
            TimeSpan.FromSeconds(2));
        time.Advance(TimeSpan.FromSeconds(1));

        var first = await Assert.ThrowsAsync<PoolTimeoutException>(() => typed);
        Assert.Equal(TimeSpan.FromSeconds(1), first.Timeout);
        Assert.False(untyped.IsCompleted);
        time.Advance(TimeSpan.FromSeconds(1));
        var second = await Assert.ThrowsAsync<PoolTimeoutException>(() => untyped);
        Assert.Equal(TimeSpan.FromSeconds(2), second.Timeout);
        Assert.False(ran);
        held.Dispose();
        AssertIdleWithoutWaiters(pool);
    }

    [Fact]
    public async Task RunAsync_WithCheckoutTimeout_RunsWhenAWorkerComesInTimeAndChecksIn()
    {
        var time = new FakeTimeProvider();
        var factory = new FakeWorkerFactory();
        await using var pool = await Pool.StartAsync(Scenario.Options(time, size: 1), factory);
        var held = await pool.CheckoutAsync();

        var typed = pool.RunAsync((worker, ct) => worker.SquareAsync(6, ct), Timeout.InfiniteTimeSpan);
        var untyped = pool.RunAsync((worker, ct) => (Task)worker.SquareAsync(2, ct), TimeSpan.FromSeconds(5));
        time.Advance(TimeSpan.FromSeconds(4));
        Assert.False(typed.IsCompleted);
        held.Dispose();

        Assert.Equal(36, await typed);
        await untyped;
        Assert.Equal(2, factory.All.Single().Calls);
        Assert.Equal(1, pool.GetStatus().Consistent().Idle);
        Assert.Equal(42, await pool.RunAsync((_, _) => Task.FromResult(42), TimeSpan.Zero));
    }

    [Fact]
    public async Task RunAsync_NegativeCheckoutTimeout_ThrowsArgumentOutOfRange()
    {
        var time = new FakeTimeProvider();
        await using var pool = await Pool.StartAsync(Scenario.Options(time, size: 1), new FakeWorkerFactory());

        var typed = await Assert.ThrowsAsync<ArgumentOutOfRangeException>(() => pool.RunAsync((_, _) => Task.FromResult(1), TimeSpan.FromSeconds(-1)));
        Assert.Equal(TimeSpan.FromSeconds(-1), typed.ActualValue);
        await Assert.ThrowsAsync<ArgumentOutOfRangeException>(() => pool.RunAsync((_, _) => Task.CompletedTask, TimeSpan.FromSeconds(-1)));
        Assert.Equal(1, pool.GetStatus().Consistent().Idle);
    }

    [Fact]
    public async Task Worker_AfterDispose_ThrowsObjectDisposed()
    {
        var time = new FakeTimeProvider();
        await using var pool = await Pool.StartAsync(Scenario.Options(time, size: 1), new FakeWorkerFactory());
        var lease = await pool.CheckoutAsync();
        int id = lease.WorkerId;

        lease.Dispose();

        Assert.False(lease.IsActive);
        Assert.Throws<ObjectDisposedException>(() => lease.Worker);
        Assert.Equal(id, lease.WorkerId);
    }

    [Fact]
    public void DefaultLease_Used_IsEmptyAndHarmless()
    {
        var lease = default(Lease<FakeWorker>);

        Assert.False(lease.IsActive);
        Assert.Throws<InvalidOperationException>(() => lease.Worker);
        lease.MarkBroken();
        lease.Dispose();
    }

    [Fact]
    public async Task MarkBroken_Checkin_StopsAndReplacesTheWorkerInsteadOfReusingIt()
    {
        var time = new FakeTimeProvider();
        var factory = new FakeWorkerFactory();
        await using var pool = await Pool.StartAsync(Scenario.Options(time, size: 2), factory);
        var lease = await pool.CheckoutAsync();
        var broken = lease.Worker;

        lease.MarkBroken();
        Assert.True(lease.IsActive);
        lease.Dispose();

        await Scenario.Until(() => broken.IsStopped && pool.GetStatus().Idle == 2, "the broken worker is replaced");
        var status = pool.GetStatus().Consistent();
        Assert.DoesNotContain(status.Workers, w => w.Id == broken.Id);
        Assert.Equal(0, status.TotalDeaths);
        Assert.Null(status.LastFailure);
        Assert.Equal(1, status.TotalRestarts);
        for (int i = 0; i < 4; i++)
        {
            using var next = await pool.CheckoutAsync();
            Assert.NotSame(broken, next.Worker);
        }
    }

    [Fact]
    public async Task MarkBroken_Repeatedly_DoesNotCountTowardBackoff()
    {
        var time = new FakeTimeProvider();
        var factory = new FakeWorkerFactory();
        var options = Scenario.Options(time, size: 1);
        options.MaxRestarts = 0;
        await using var pool = await Pool.StartAsync(options, factory);

        for (int i = 0; i < 5; i++)
        {
            var lease = await pool.CheckoutAsync();
            lease.MarkBroken();
            lease.Dispose();
            await Scenario.Until(() => pool.GetStatus().Idle == 1, "the broken worker is replaced");
            Assert.NotEqual(PoolState.Backoff, pool.GetStatus().State);
        }

        Assert.Equal(6, factory.Started);
        Assert.Equal(PoolState.Ready, pool.GetStatus().State);
    }

    [Fact]
    public async Task MarkBroken_OnAStaleCopy_DoesNotBreakTheNextHoldersWorker()
    {
        var time = new FakeTimeProvider();
        var factory = new FakeWorkerFactory();
        await using var pool = await Pool.StartAsync(Scenario.Options(time, size: 1), factory);
        var lease = await pool.CheckoutAsync();
        var copy = lease;
        lease.Dispose();
        var next = await pool.CheckoutAsync();

        copy.MarkBroken();
        next.Dispose();

        Assert.Equal(1, pool.GetStatus().Consistent().Idle);
        Assert.Equal(0, factory.Stops);
        using var again = await pool.CheckoutAsync();
        Assert.Equal(lease.WorkerId, again.WorkerId);
    }

    [Fact]
    public async Task AbandonedLease_Collected_WorkerTreatedAsDeadAndReplaced()
    {
        var time = new FakeTimeProvider();
        var factory = new FakeWorkerFactory();
        var logs = new RecordingLoggerProvider();
        using var loggerFactory = logs.CreateFactory();
        var options = Scenario.Options(time, size: 2);
        options.LoggerFactory = loggerFactory;
        options.MaxRestarts = 0; // an abandoned lease is not a failure: no backoff even at zero
        await using var pool = await Pool.StartAsync(options, factory);

        int abandoned = CheckOutAndDrop(pool);
        var worker = factory.All.Single(w => w.Id == abandoned);
        GC.Collect();
        GC.WaitForPendingFinalizers();
        GC.Collect();

        await Scenario.Until(
            () =>
            {
                GC.Collect();
                GC.WaitForPendingFinalizers();
                return worker.IsStopped && pool.GetStatus().Idle == 2;
            },
            "the abandoned lease's worker is stopped and replaced");
        var status = pool.GetStatus().Consistent();
        Assert.Equal(0, status.Busy);
        Assert.DoesNotContain(status.Workers, w => w.Id == abandoned);
        Assert.Equal(1, status.TotalDeaths);
        Assert.NotEqual(PoolState.Backoff, status.State);
        Assert.Equal(3, factory.Started);
        var warning = Assert.Single(logs.Entries, e => e.EventId.Id == 1302);
        Assert.Equal(Microsoft.Extensions.Logging.LogLevel.Warning, warning.Level);
        Assert.Contains(options.Name, warning.Message, StringComparison.Ordinal);
    }

    [Fact]
    public async Task AbandonedLease_WithLeakDetection_WarningHasTheCheckoutStack()
    {
        var time = new FakeTimeProvider();
        var factory = new FakeWorkerFactory();
        var logs = new RecordingLoggerProvider();
        using var loggerFactory = logs.CreateFactory();
        var options = Scenario.Options(time, size: 1);
        options.LoggerFactory = loggerFactory;
        options.LeakDetectionThreshold = TimeSpan.FromMinutes(1);
        await using var pool = await Pool.StartAsync(options, factory);

        CheckOutAndDrop(pool);
        await Scenario.Until(
            () =>
            {
                GC.Collect();
                GC.WaitForPendingFinalizers();
                return logs.Entries.Any(e => e.EventId.Id == 1302);
            },
            "the abandoned lease is reclaimed");

        var warning = Assert.Single(logs.Entries, e => e.EventId.Id == 1302);
        Assert.Contains($"{nameof(LeaseTests)}.{nameof(CheckOutAndDrop)}", FirstCheckoutFrame(warning.Message), StringComparison.Ordinal);
    }

    [Fact]
    public async Task LeakDetection_LeaseHeldTooLong_LogsAWarningWithTheCheckoutStack()
    {
        var time = new FakeTimeProvider();
        var logs = new RecordingLoggerProvider();
        using var loggerFactory = logs.CreateFactory();
        var options = Scenario.Options(time, size: 1);
        options.LoggerFactory = loggerFactory;
        options.LeakDetectionThreshold = TimeSpan.FromSeconds(10);
        await using var pool = await Pool.StartAsync(options, new FakeWorkerFactory());

        using var lease = await pool.CheckoutAsync();
        time.Advance(TimeSpan.FromSeconds(9));
        Assert.DoesNotContain(logs.Entries, e => e.EventId.Id == 1303);
        time.Advance(TimeSpan.FromSeconds(2));

        var warning = Assert.Single(logs.Entries, e => e.EventId.Id == 1303);
        Assert.Equal(Microsoft.Extensions.Logging.LogLevel.Warning, warning.Level);
        // The stack starts at this method's frame: the pool's own frames are left out, and none of the caller's are.
        Assert.Contains(
            $"{nameof(LeaseTests)}.{nameof(LeakDetection_LeaseHeldTooLong_LogsAWarningWithTheCheckoutStack)}",
            FirstCheckoutFrame(warning.Message),
            StringComparison.Ordinal);
        Assert.True(lease.IsActive);
    }

    [Fact]
    public async Task LeakDetection_OverflowLeaseHeldTooLong_LogsOnceWithTheCheckoutStackAndTheLeaseStaysValid()
    {
        var time = new FakeTimeProvider();
        var logs = new RecordingLoggerProvider();
        using var loggerFactory = logs.CreateFactory();
        var options = Scenario.Options(time, size: 0, maxOverflow: 1);
        options.LoggerFactory = loggerFactory;
        options.LeakDetectionThreshold = TimeSpan.FromSeconds(10);
        await using var pool = await Pool.StartAsync(options, new FakeWorkerFactory());

        var lease = await pool.CheckoutAsync(); // no idle worker: an overflow worker is started for this call
        time.Advance(TimeSpan.FromSeconds(9));
        Assert.DoesNotContain(logs.Entries, e => e.EventId.Id == 1303);
        time.Advance(TimeSpan.FromSeconds(2));

        var warning = Assert.Single(logs.Entries, e => e.EventId.Id == 1303);
        Assert.Equal(Microsoft.Extensions.Logging.LogLevel.Warning, warning.Level);
        Assert.Contains(
            $"{nameof(LeaseTests)}.{nameof(LeakDetection_OverflowLeaseHeldTooLong_LogsOnceWithTheCheckoutStackAndTheLeaseStaysValid)}",
            FirstCheckoutFrame(warning.Message),
            StringComparison.Ordinal);
        Assert.True(lease.IsActive);
        Assert.Equal(0, lease.Worker.StopCount);
        time.Advance(TimeSpan.FromMinutes(1));
        Assert.Single(logs.Entries, e => e.EventId.Id == 1303);
        lease.Dispose();
        Assert.Equal(0, pool.GetStatus().Consistent().Busy);
    }

    [Fact]
    public async Task LeakDetection_LeaseReturnedInTime_LogsNothing()
    {
        var time = new FakeTimeProvider();
        var logs = new RecordingLoggerProvider();
        using var loggerFactory = logs.CreateFactory();
        var options = Scenario.Options(time, size: 1);
        options.LoggerFactory = loggerFactory;
        options.LeakDetectionThreshold = TimeSpan.FromSeconds(10);
        await using var pool = await Pool.StartAsync(options, new FakeWorkerFactory());

        for (int i = 0; i < 5; i++)
        {
            using var lease = await pool.CheckoutAsync();
            time.Advance(TimeSpan.FromSeconds(9));
        }

        time.Advance(TimeSpan.FromMinutes(1));
        Assert.DoesNotContain(logs.Entries, e => e.EventId.Id == 1303);
    }

    /// <summary>The first frame of the checkout stack in a leak warning.</summary>
    private static string FirstCheckoutFrame(string message)
    {
        const string Marker = "Checked out at: ";
        var stack = message[(message.IndexOf(Marker, StringComparison.Ordinal) + Marker.Length)..].TrimStart();
        var end = stack.IndexOf('\n', StringComparison.Ordinal);
        return end < 0 ? stack : stack[..end];
    }

    [MethodImpl(MethodImplOptions.NoInlining)]
    private static int CheckOutAndDrop(Pool<FakeWorker> pool)
    {
        var checkout = pool.CheckoutAsync();
        Assert.True(checkout.IsCompletedSuccessfully);
        return checkout.Result.WorkerId;
    }

    /// <summary>The pool as it was before the run: its one worker idle, nobody waiting.</summary>
    private static void AssertIdleWithoutWaiters(Pool<FakeWorker> pool)
    {
        var status = pool.GetStatus().Consistent();
        Assert.Equal(1, status.Idle);
        Assert.Equal(0, status.Waiters);
    }
}
