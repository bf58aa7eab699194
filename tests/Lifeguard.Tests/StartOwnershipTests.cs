using Lifeguard.Testing;
using Microsoft.Extensions.Time.Testing;

namespace Lifeguard.Tests;

/// <summary>
/// A caller waiting for a worker is a waiter, whatever was started on its behalf, and starts belong to the pool:
/// whichever comes first, a checked-in worker or a finished start, serves the oldest waiter. (A caller that owned its
/// start let a worker checked in meanwhile find no waiter and be dismissed: a Python pool with overflow under
/// sustained load started a process for almost every call.)
/// </summary>
public sealed class StartOwnershipTests
{
    [Fact]
    public async Task CheckoutAsync_CheckinBeatsTheStart_TheCallerGetsTheCheckedInWorkerAndTheStartIsSurplus()
    {
        var time = new FakeTimeProvider();
        var factory = new SteppingWorkerFactory();
        factory.Release(1); // the base worker
        await using var pool = await Pool.StartAsync(Scenario.Options(time, size: 1, maxOverflow: 1), factory);
        var held = await pool.CheckoutAsync();

        var caller = pool.CheckoutAsync().AsTask(); // makes an overflow start, which waits for its permit
        await Scenario.Until(() => factory.Waiting == 1, "the overflow start is in flight");
        Assert.Equal(1, pool.GetStatus().Consistent().Waiters);
        held.Dispose();

        using var lease = await caller;
        Assert.Equal(held.WorkerId, lease.WorkerId);
        var status = pool.GetStatus().Consistent();
        Assert.Equal((0, 1, 1, 0), (status.Idle, status.Busy, status.Starting, status.Waiters));

        factory.Release(1); // the start ends with nobody waiting: its worker is dismissed as surplus
        await Scenario.Until(() => pool.GetStatus() is { Starting: 0, Stopping: 0 } && factory.Inner.Running == 1, "the surplus worker is stopped");
        status = pool.GetStatus().Consistent();
        Assert.Equal((0, 1, 0), (status.Idle, status.Busy, status.Overflow));
        Assert.Equal(2, status.TotalStarts);
        Assert.Equal(0, status.TotalRestarts);
    }

    [Fact]
    public async Task CheckoutAsync_CheckinWhileAStartRunsWithNobodyWaiting_TheWarmWorkerIsKeptUntilTheStartEnds()
    {
        var time = new FakeTimeProvider();
        var factory = new SteppingWorkerFactory();
        factory.Release(1);
        await using var pool = await Pool.StartAsync(Scenario.Options(time, size: 1, maxOverflow: 2), factory);
        var a = await pool.CheckoutAsync();
        var b = pool.CheckoutAsync().AsTask();
        await Scenario.Until(() => factory.Waiting == 1, "b's start is in flight");
        factory.Release(1);
        var bLease = await b;

        var c = pool.CheckoutAsync().AsTask(); // a second overflow start, for c
        await Scenario.Until(() => factory.Waiting == 1, "c's start is in flight");
        a.Dispose(); // to c, the oldest waiter
        using var cLease = await c;
        bLease.Dispose(); // surplus, nobody waits, but a start is in flight: kept warm

        var status = pool.GetStatus().Consistent();
        Assert.Equal((1, 1, 1), (status.Idle, status.Busy, status.Starting));
        Assert.Equal(0, status.Stopping);

        factory.Release(1); // the start ends with nobody waiting: the surplus goes, the new arrival and the warm one
        await Scenario.Until(() => pool.GetStatus() is { Starting: 0, Stopping: 0, Live: 1 } && factory.Inner.Running == 1, "the surplus is taken");
        status = pool.GetStatus().Consistent();
        Assert.Equal((0, 1, 0), (status.Idle, status.Busy, status.Overflow));
        Assert.Equal(3, status.TotalStarts);
    }

    [Fact]
    public async Task CheckoutAsync_StartBeatsTheCheckin_TheStartServesTheOldestWaiter()
    {
        var time = new FakeTimeProvider();
        var factory = new SteppingWorkerFactory();
        factory.Release(1);
        await using var pool = await Pool.StartAsync(Scenario.Options(time, size: 1, maxOverflow: 1), factory);
        using var held = await pool.CheckoutAsync();

        var first = pool.CheckoutAsync().AsTask();  // makes the start
        await Scenario.Until(() => factory.Waiting == 1, "the overflow start is in flight");
        var second = pool.CheckoutAsync().AsTask(); // at the cap: queues behind it
        Assert.Equal(2, pool.GetStatus().Consistent().Waiters);

        factory.Release(1);

        using var firstLease = await first;
        Assert.Equal(factory.Inner.All.Last().Id, firstLease.WorkerId);
        Assert.False(second.IsCompleted);
        Assert.Equal(1, pool.GetStatus().Consistent().Waiters);
        held.Dispose();
        using var secondLease = await second;
        Assert.Equal(held.WorkerId, secondLease.WorkerId);
    }

    [Fact]
    public async Task CheckoutAsync_StartFailsWithSeveralWaiters_TheOldestGetsTheErrorAndTheOthersKeepWaiting()
    {
        var time = new FakeTimeProvider();
        var factory = new SteppingWorkerFactory();
        factory.Release(1);
        var options = Scenario.Options(time, size: 1, maxOverflow: 1);
        await using var pool = await Pool.StartAsync(options, factory);
        var held = await pool.CheckoutAsync();
        factory.Inner.FailStart = n => n == 2 ? new InvalidOperationException("cannot start") : null;

        var first = pool.CheckoutAsync().AsTask();  // its checkout makes the (failing) start
        await Scenario.Until(() => factory.Waiting == 1, "the overflow start is in flight");
        var second = pool.CheckoutAsync().AsTask();
        var third = pool.CheckoutAsync().AsTask();
        Assert.Equal(3, pool.GetStatus().Consistent().Waiters);

        factory.Release(1); // fails: 3 wait, 0 starts remain, so the oldest gets the error; a new start is made for the rest

        var error = await Assert.ThrowsAsync<WorkerStartException>(() => first);
        Assert.Contains("cannot start", error.InnerException!.Message, StringComparison.Ordinal);
        await Scenario.Until(() => factory.Waiting == 1, "a start is made again for the waiters left");
        Assert.False(second.IsCompleted);
        Assert.False(third.IsCompleted);
        Assert.Equal(2, pool.GetStatus().Consistent().Waiters);

        factory.Release(1);
        using var secondLease = await second;
        held.Dispose();
        using var thirdLease = await third;
        Assert.Equal(held.WorkerId, thirdLease.WorkerId);
        Assert.Equal(1, pool.GetStatus().TotalStartFailures);
    }

    [Fact]
    public async Task CheckoutAsync_CallerGivesUpWhileItsStartRuns_TheStartIsNotCancelledAndServesTheNextWaiter()
    {
        var time = new FakeTimeProvider();
        var factory = new SteppingWorkerFactory();
        factory.Release(1);
        var options = Scenario.Options(time, size: 1, maxOverflow: 1);
        options.CheckoutTimeout = TimeSpan.FromSeconds(5);
        await using var pool = await Pool.StartAsync(options, factory);
        using var held = await pool.CheckoutAsync();
        using var giveUp = new CancellationTokenSource();

        var quitter = pool.CheckoutAsync(giveUp.Token).AsTask(); // makes the start
        await Scenario.Until(() => factory.Waiting == 1, "the overflow start is in flight");
        var timesOut = pool.CheckoutAsync(TimeSpan.FromSeconds(2)).AsTask();
        var next = pool.CheckoutAsync(TimeSpan.FromSeconds(10)).AsTask();

        giveUp.Cancel(); // the token covers the whole wait, the start's included
        var canceled = await Assert.ThrowsAnyAsync<OperationCanceledException>(() => quitter);
        Assert.Equal(giveUp.Token, canceled.CancellationToken);
        time.Advance(TimeSpan.FromSeconds(2)); // and so does the checkout timeout
        await Assert.ThrowsAsync<PoolTimeoutException>(() => timesOut);
        Assert.Equal(1, pool.GetStatus().Consistent().Starting);

        factory.Release(1); // the start was not cancelled: it serves the next waiter
        using var lease = await next;
        Assert.Equal(factory.Inner.All.Last().Id, lease.WorkerId);
        Assert.Equal(2, pool.GetStatus().Consistent().TotalStarts);
    }

    [Fact]
    public async Task TryCheckoutAsync_AwaitsTheStartItMade_AndIsServedByAWorkerCheckedInMeanwhile()
    {
        var time = new FakeTimeProvider();
        var factory = new SteppingWorkerFactory();
        factory.Release(1);
        await using var pool = await Pool.StartAsync(Scenario.Options(time, size: 1, maxOverflow: 1), factory);
        var held = await pool.CheckoutAsync();

        var tried = pool.TryCheckoutAsync().AsTask();
        var zero = pool.CheckoutAsync(TimeSpan.Zero).AsTask(); // at the cap, the start claimed: never waits

        await Assert.ThrowsAsync<PoolTimeoutException>(() => zero);
        Assert.Null(await pool.TryCheckoutAsync());
        Assert.Equal(1, pool.GetStatus().Consistent().Waiters);
        held.Dispose();
        using var lease = Assert.IsType<Lease<FakeWorker>>(await tried);
        Assert.Equal(held.WorkerId, lease.WorkerId);
        factory.Release(1);
        await Scenario.Until(() => pool.GetStatus() is { Starting: 0, Stopping: 0, Live: 1 }, "the surplus start is dismissed");
    }

    [Fact]
    public async Task RunAsync_SustainedBurstOnSize2AndOverflow2_StartsNoMoreThanTheCap()
    {
        // 64 callers, each making 20 calls of 20 ms, in one continuous burst on 2 + 2 workers: there is always a
        // waiter when a worker comes back, so no worker is dismissed and none is started again.
        var factory = new FakeWorkerFactory();
        var options = Scenario.Options(time: null, size: 2, maxOverflow: 2);
        options.CheckoutTimeout = Timeout.InfiniteTimeSpan;
        await using var pool = await Pool.StartAsync(options, factory);

        var callers = Enumerable.Range(0, 64).Select(_ => Task.Run(async () =>
        {
            for (int call = 0; call < 20; call++)
            {
                await pool.RunAsync((_, ct) => Task.Delay(20, ct));
            }
        }));
        await Task.WhenAll(callers).WaitAsync(TimeSpan.FromMinutes(2));

        var status = pool.GetStatus().Consistent();
        Assert.Equal(64 * 20, status.TotalCheckouts);
        Assert.InRange(status.TotalStarts, 2, options.Size + options.MaxOverflow);
        Assert.Equal(0, status.TotalRestarts);
        Assert.InRange(factory.Started, 2, 4);
    }
}
