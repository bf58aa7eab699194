using Lifeguard.Testing;
using Microsoft.Extensions.Time.Testing;

namespace Lifeguard.Tests;

/// <summary>
/// poolboy's handle_worker_exit: if a caller waits, a new worker is started for it; else if the pool has overflow, the
/// overflow drops and nothing starts; else a replacement starts into the idle set. An idle worker can only die with
/// nobody waiting (callers never wait while a worker is idle), so the waiter branch is tested with leased workers.
/// </summary>
public sealed class WorkerDeathTests
{
    [Fact]
    public async Task Die_LeasedWorkerWhileACallerWaits_NewWorkerStartedForTheWaiter()
    {
        var time = new FakeTimeProvider();
        var factory = new FakeWorkerFactory();
        await using var pool = await Pool.StartAsync(Scenario.Options(time, size: 1), factory);
        var held = await pool.CheckoutAsync();
        var dead = held.Worker;
        var waiting = pool.CheckoutAsync().AsTask();

        dead.Die();

        using var lease = await waiting;
        Assert.NotSame(dead, lease.Worker);
        Assert.Same(factory.All.Last(), lease.Worker);
        await Scenario.Until(() => dead.IsStopped, "the dead worker is stopped");
        var status = pool.GetStatus().Consistent();
        Assert.Equal(1, status.Busy);
        Assert.Equal(0, status.Waiters);
        Assert.Equal(1, status.TotalDeaths);
        Assert.Equal(1, status.TotalRestarts);

        // The dead worker's lease is still safe to dispose: it changes nothing.
        held.Dispose();
        Assert.Equal(1, pool.GetStatus().Consistent().Busy);
        Assert.Equal(2, factory.Started);
    }

    [Fact]
    public async Task Die_LeasedOverflowWorkerWhileACallerWaits_NewWorkerStartedForTheWaiter()
    {
        var time = new FakeTimeProvider();
        var factory = new FakeWorkerFactory();
        await using var pool = await Pool.StartAsync(Scenario.Options(time, size: 1, maxOverflow: 1), factory);
        using var a = await pool.CheckoutAsync();
        var b = await pool.CheckoutAsync();
        var waiting = pool.CheckoutAsync().AsTask();

        b.Worker.Die();

        using var lease = await waiting;
        Assert.Equal(3, factory.Started);
        Assert.Same(factory.All.Last(), lease.Worker);
        var status = pool.GetStatus().Consistent();
        Assert.Equal(2, status.Busy);
        Assert.Equal(1, status.Overflow);
    }

    [Fact]
    public async Task Die_LeasedWorkerWithOverflow_OverflowDropsAndNothingStarts()
    {
        var time = new FakeTimeProvider();
        var factory = new FakeWorkerFactory();
        await using var pool = await Pool.StartAsync(Scenario.Options(time, size: 1, maxOverflow: 1), factory);
        var a = await pool.CheckoutAsync();
        var b = await pool.CheckoutAsync();
        Assert.Equal(1, pool.GetStatus().Overflow);

        a.Worker.Die(); // the base worker, even: overflow is a count

        await Scenario.Until(() => factory.Stops == 1, "the dead worker is stopped");
        var status = pool.GetStatus().Consistent();
        Assert.Equal(1, status.Busy);
        Assert.Equal(1, status.Live);
        Assert.Equal(0, status.Overflow);
        Assert.Equal(0, status.Starting);
        Assert.Equal(2, factory.StartAttempts);

        // The survivor is now the base: it is kept at checkin, not dismissed.
        b.Dispose();
        a.Dispose();
        status = pool.GetStatus().Consistent();
        Assert.Equal(1, status.Idle);
        Assert.Equal(1, factory.Running);
        Assert.Equal(2, factory.StartAttempts);
    }

    [Fact]
    public async Task Die_LeasedWorkerNoOverflowNoWaiter_ReplacementGoesIdle()
    {
        var time = new FakeTimeProvider();
        var factory = new FakeWorkerFactory();
        await using var pool = await Pool.StartAsync(Scenario.Options(time, size: 2, maxOverflow: 1), factory);
        var lease = await pool.CheckoutAsync();
        var dead = lease.Worker;
        var reason = new InvalidOperationException("process exited with code 137");

        dead.Die(reason);

        await Scenario.Until(() => pool.GetStatus().Idle == 2, "a replacement starts into the idle set");
        var status = pool.GetStatus().Consistent();
        Assert.Equal(0, status.Busy);
        Assert.Equal(1, status.TotalDeaths);
        Assert.Equal(1, status.TotalRestarts);
        Assert.Same(reason, status.LastFailure);
        Assert.True(dead.IsStopped);
        Assert.True(lease.IsActive);
        lease.Dispose();
        Assert.Equal(2, pool.GetStatus().Consistent().Idle);
        Assert.Equal(2, factory.Running);
    }

    [Fact]
    public async Task Die_IdleWorkerWithOverflow_OverflowDropsAndNothingStarts()
    {
        var time = new FakeTimeProvider();
        var factory = new FakeWorkerFactory();
        var options = Scenario.Options(time, size: 1, maxOverflow: 1);
        options.OverflowIdleTimeout = TimeSpan.FromMinutes(1); // keeps the surplus worker idle
        await using var pool = await Pool.StartAsync(options, factory);
        using var a = await pool.CheckoutAsync();
        var b = await pool.CheckoutAsync();
        var surplus = b.Worker;
        b.Dispose();
        Assert.Equal(1, pool.GetStatus().Consistent().Overflow);

        surplus.Die();

        var status = pool.GetStatus().Consistent();
        Assert.Equal(0, status.Idle);
        Assert.Equal(0, status.Overflow);
        Assert.Equal(0, status.Starting);
        await Scenario.Until(() => surplus.IsStopped, "the dead worker is stopped");
        Assert.Equal(2, factory.StartAttempts);
        Assert.Equal(1, pool.GetStatus().TotalDeaths);
    }

    [Fact]
    public async Task Die_IdleWorkerNoOverflow_ReplacementGoesIdle()
    {
        var time = new FakeTimeProvider();
        var factory = new FakeWorkerFactory();
        await using var pool = await Pool.StartAsync(Scenario.Options(time, size: 3), factory);
        var dead = factory.All.First();
        factory.CloseGate();

        dead.Die();

        var status = pool.GetStatus().Consistent();
        Assert.Equal(2, status.Idle);
        Assert.Equal(1, status.Starting);
        factory.OpenGate();
        await Scenario.Until(() => pool.GetStatus().Idle == 3, "a replacement starts into the idle set");
        status = pool.GetStatus().Consistent();
        Assert.DoesNotContain(status.Workers, w => w.Id == dead.Id);
        Assert.True(dead.IsStopped);
        Assert.Equal(4, factory.Started);
        Assert.Equal(3, factory.Running);
    }

    [Fact]
    public async Task Die_ReportedTwice_CountsOnce()
    {
        var time = new FakeTimeProvider();
        var factory = new FakeWorkerFactory();
        await using var pool = await Pool.StartAsync(Scenario.Options(time, size: 1), factory);
        var dead = factory.All.Single();

        dead.Die();
        dead.Die();

        await Scenario.Until(() => pool.GetStatus().Idle == 1, "a replacement starts");
        Assert.Equal(1, pool.GetStatus().TotalDeaths);
        Assert.Equal(1, dead.StopCount);
        Assert.Equal(2, factory.Started);
    }

    [Fact]
    public async Task Die_WorkerAlreadyDismissed_Ignored()
    {
        var time = new FakeTimeProvider();
        var factory = new FakeWorkerFactory();
        await using var pool = await Pool.StartAsync(Scenario.Options(time, size: 1, maxOverflow: 1), factory);
        using var a = await pool.CheckoutAsync();
        var b = await pool.CheckoutAsync();
        var overflow = b.Worker;
        b.Dispose();
        await Scenario.Until(() => overflow.IsStopped, "the overflow worker is dismissed");

        overflow.Die();

        var status = pool.GetStatus().Consistent();
        Assert.Equal(0, status.TotalDeaths);
        Assert.Null(status.LastFailure);
        Assert.Equal(1, status.Live);
        Assert.Equal(1, overflow.StopCount);
    }
}
