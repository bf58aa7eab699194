using Lifeguard.Testing;
using Microsoft.Extensions.Time.Testing;

namespace Lifeguard.Tests;

public sealed class CheckinTests
{
    [Fact]
    public async Task Dispose_CallersWaiting_WorkerGoesToTheFirstWaiterEvenIfOverflow()
    {
        var time = new FakeTimeProvider();
        var factory = new FakeWorkerFactory();
        await using var pool = await Pool.StartAsync(Scenario.Options(time, size: 1, maxOverflow: 1), factory);
        var a = await pool.CheckoutAsync();
        var b = await pool.CheckoutAsync(); // overflow
        var first = pool.CheckoutAsync().AsTask();
        var second = pool.CheckoutAsync().AsTask();

        b.Dispose();

        var firstLease = await first;
        Assert.Equal(b.WorkerId, firstLease.WorkerId);
        Assert.False(second.IsCompleted);
        a.Dispose();
        var secondLease = await second;
        Assert.Equal(a.WorkerId, secondLease.WorkerId);
        Assert.Equal(0, factory.Stops);
        Assert.Equal(2, factory.Started);
        firstLease.Dispose();
        secondLease.Dispose();
    }

    [Fact]
    public async Task Dispose_OverflowAndNoWaiter_DismissedAtOnce()
    {
        var time = new FakeTimeProvider();
        var factory = new FakeWorkerFactory();
        var options = Scenario.Options(time, size: 1, maxOverflow: 1);
        Assert.Equal(TimeSpan.Zero, options.OverflowIdleTimeout);
        await using var pool = await Pool.StartAsync(options, factory);
        var a = await pool.CheckoutAsync();
        var b = await pool.CheckoutAsync();
        var overflow = b.Worker;

        b.Dispose();

        var status = pool.GetStatus().Consistent();
        Assert.Equal(0, status.Idle);
        Assert.Equal(0, status.Overflow);
        await Scenario.Until(() => overflow.IsStopped, "the overflow worker is stopped");
        a.Dispose();
        status = pool.GetStatus().Consistent();
        Assert.Equal(1, status.Idle);
        Assert.Equal(1, factory.Running);
    }

    [Fact]
    public async Task Dispose_BaseWorkerWhileOverflowBusy_DismissedBecauseOverflowIsACount()
    {
        var time = new FakeTimeProvider();
        var factory = new FakeWorkerFactory();
        await using var pool = await Pool.StartAsync(Scenario.Options(time, size: 1, maxOverflow: 1), factory);
        var a = await pool.CheckoutAsync();
        var b = await pool.CheckoutAsync();
        var first = a.Worker;

        // As in poolboy: the pool has overflow, so whichever worker comes back first is dismissed.
        a.Dispose();

        await Scenario.Until(() => first.IsStopped, "the returned worker is dismissed");
        var status = pool.GetStatus().Consistent();
        Assert.Equal(1, status.Live);
        Assert.Equal(0, status.Overflow);
        b.Dispose();
        Assert.Equal(1, pool.GetStatus().Consistent().Idle);
    }

    [Fact]
    public async Task Dispose_NoOverflowNoWaiter_WorkerBecomesIdle()
    {
        var time = new FakeTimeProvider();
        var factory = new FakeWorkerFactory();
        await using var pool = await Pool.StartAsync(Scenario.Options(time, size: 2, maxOverflow: 1), factory);
        var a = await pool.CheckoutAsync();

        a.Dispose();

        var status = pool.GetStatus().Consistent();
        Assert.Equal(2, status.Idle);
        Assert.Equal(0, status.Busy);
        Assert.Equal(0, factory.Stops);
    }

    [Fact]
    public async Task DisposeAsync_LeasedWorker_ChecksItIn()
    {
        var time = new FakeTimeProvider();
        await using var pool = await Pool.StartAsync(Scenario.Options(time, size: 1), new FakeWorkerFactory());
        var lease = await pool.CheckoutAsync();

        var disposal = lease.DisposeAsync();

        Assert.True(disposal.IsCompletedSuccessfully);
        await disposal;
        Assert.False(lease.IsActive);
        Assert.Equal(1, pool.GetStatus().Consistent().Idle);
    }

    [Fact]
    public async Task Dispose_OverflowWithCooldown_DismissedAfterOverflowIdleTimeout()
    {
        var time = new FakeTimeProvider();
        var factory = new FakeWorkerFactory();
        var options = Scenario.Options(time, size: 1, maxOverflow: 1);
        options.OverflowIdleTimeout = TimeSpan.FromSeconds(10);
        await using var pool = await Pool.StartAsync(options, factory);
        using var a = await pool.CheckoutAsync();
        var b = await pool.CheckoutAsync();
        var overflow = b.Worker;

        b.Dispose();

        var status = pool.GetStatus().Consistent();
        Assert.Equal(1, status.Idle);
        Assert.Equal(1, status.Overflow);
        time.Advance(TimeSpan.FromSeconds(10) - TimeSpan.FromTicks(1));
        Assert.Equal(1, pool.GetStatus().Idle);
        time.Advance(TimeSpan.FromTicks(1));
        status = pool.GetStatus().Consistent();
        Assert.Equal(0, status.Idle);
        Assert.Equal(0, status.Overflow);
        await Scenario.Until(() => overflow.IsStopped, "the cooled-down worker is stopped");
        Assert.Equal(1, factory.Running);
    }

    [Fact]
    public async Task Dispose_OverflowWithCooldown_StaysWarmForTheNextBurst()
    {
        var time = new FakeTimeProvider();
        var factory = new FakeWorkerFactory();
        var options = Scenario.Options(time, size: 1, maxOverflow: 1);
        options.OverflowIdleTimeout = TimeSpan.FromSeconds(10);
        await using var pool = await Pool.StartAsync(options, factory);
        using var a = await pool.CheckoutAsync();
        var b = await pool.CheckoutAsync();
        b.Dispose();
        time.Advance(TimeSpan.FromSeconds(5));

        var again = await pool.CheckoutAsync();

        Assert.Equal(b.WorkerId, again.WorkerId);
        Assert.Equal(2, factory.Started);

        // Its cooldown starts over at this checkin.
        again.Dispose();
        time.Advance(TimeSpan.FromSeconds(9));
        Assert.Equal(1, pool.GetStatus().Idle);
        time.Advance(TimeSpan.FromSeconds(1));
        Assert.Equal(0, pool.GetStatus().Consistent().Idle);
    }

    [Fact]
    public async Task Dispose_CooldownWithSeveralSurplusWorkers_TheOneIdleLongestGoesFirst()
    {
        var time = new FakeTimeProvider();
        var factory = new FakeWorkerFactory();
        var options = Scenario.Options(time, size: 1, maxOverflow: 2);
        options.OverflowIdleTimeout = TimeSpan.FromSeconds(10);
        await using var pool = await Pool.StartAsync(options, factory);
        var (a, b, c) = (await pool.CheckoutAsync(), await pool.CheckoutAsync(), await pool.CheckoutAsync());
        b.Dispose();
        time.Advance(TimeSpan.FromSeconds(2));
        c.Dispose();
        time.Advance(TimeSpan.FromSeconds(2));
        a.Dispose();
        Assert.Equal(2, pool.GetStatus().Consistent().Overflow);

        time.Advance(TimeSpan.FromSeconds(6)); // t = 10: b has been idle 10 s
        Assert.Equal([a.WorkerId, c.WorkerId], pool.GetStatus().Consistent().Workers.Select(w => w.Id).Order());
        time.Advance(TimeSpan.FromSeconds(2)); // t = 12: c has been idle 10 s
        Assert.Equal([a.WorkerId], pool.GetStatus().Consistent().Workers.Select(w => w.Id));
        time.Advance(TimeSpan.FromMinutes(10)); // the base worker stays
        Assert.Equal([a.WorkerId], pool.GetStatus().Consistent().Workers.Select(w => w.Id));
        await Scenario.Until(() => factory.Stops == 2, "the two surplus workers are stopped");
    }

    [Fact]
    public async Task Dispose_Twice_IsANoOp()
    {
        var time = new FakeTimeProvider();
        var factory = new FakeWorkerFactory();
        await using var pool = await Pool.StartAsync(Scenario.Options(time, size: 2), factory);
        var lease = await pool.CheckoutAsync();

        lease.Dispose();
        lease.Dispose();
        await lease.DisposeAsync();

        var status = pool.GetStatus().Consistent();
        Assert.Equal(2, status.Idle);
        Assert.Equal(0, status.Busy);
        var x = await pool.CheckoutAsync();
        var y = await pool.CheckoutAsync();
        lease.Dispose();
        status = pool.GetStatus().Consistent();
        Assert.Equal(2, status.Busy);
        Assert.True(x.IsActive);
        Assert.True(y.IsActive);
        x.Dispose();
        y.Dispose();
        Assert.Equal(0, factory.Stops);
    }

    [Fact]
    public async Task Dispose_StaleCopy_NeverChecksInTheNextHoldersWorker()
    {
        var time = new FakeTimeProvider();
        var factory = new FakeWorkerFactory();
        var options = Scenario.Options(time, size: 1);
        options.CheckoutTimeout = TimeSpan.Zero;
        var logs = new RecordingLoggerProvider();
        using var loggerFactory = logs.CreateFactory();
        options.LoggerFactory = loggerFactory;
        await using var pool = await Pool.StartAsync(options, factory);
        var lease = await pool.CheckoutAsync();
        var copy = lease;
        lease.Dispose();
        var next = await pool.CheckoutAsync();
        Assert.Equal(lease.WorkerId, next.WorkerId);

        copy.Dispose();
        await copy.DisposeAsync();

        Assert.True(next.IsActive);
        Assert.Same(factory.All.Single(), next.Worker);
        var status = pool.GetStatus().Consistent();
        Assert.Equal(1, status.Busy);
        Assert.Equal(0, status.Idle);
        await Assert.ThrowsAsync<PoolTimeoutException>(async () => await pool.CheckoutAsync());
        Assert.Contains(logs.Entries, e => e.EventId.Id == 1301);
        next.Dispose();
        Assert.Equal(1, pool.GetStatus().Consistent().Idle);
    }

    [Fact]
    public async Task Dispose_OverflowIdleTimeoutBeyondTheTimerRange_KeepsTheWorkerWarm()
    {
        // The system clock, whose timers take at most about 49.7 days: a valid OverflowIdleTimeout may be longer.
        var factory = new FakeWorkerFactory();
        var options = Scenario.Options(time: null, size: 1, maxOverflow: 1);
        options.OverflowIdleTimeout = TimeSpan.FromDays(60);
        await using var pool = await Pool.StartAsync(options, factory);
        using var a = await pool.CheckoutAsync();
        var b = await pool.CheckoutAsync();

        b.Dispose();

        var status = pool.GetStatus().Consistent();
        Assert.Equal(1, status.Idle);
        Assert.Equal(1, status.Overflow);
    }
}
