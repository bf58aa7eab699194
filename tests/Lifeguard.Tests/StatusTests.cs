using Lifeguard.Testing;
using Microsoft.Extensions.Time.Testing;

namespace Lifeguard.Tests;

public sealed class StatusTests
{
    [Fact]
    public async Task GetStatus_State_FollowsReadyOverflowFullBackoffStopped()
    {
        var time = new FakeTimeProvider();
        var factory = new FakeWorkerFactory();
        var options = Scenario.Options(time, size: 1, maxOverflow: 1);
        options.MaxRestarts = 0;
        var pool = await Pool.StartAsync(options, factory);
        try
        {
            Assert.Equal(PoolState.Ready, pool.GetStatus().State);
            var a = await pool.CheckoutAsync();
            Assert.Equal(PoolState.Overflow, pool.GetStatus().State); // none idle, a checkout would start one
            var b = await pool.CheckoutAsync();
            Assert.Equal(PoolState.Full, pool.GetStatus().State); // a checkout would wait
            b.Dispose(); // overflow: dismissed
            Assert.Equal(PoolState.Overflow, pool.GetStatus().State);
            a.Dispose();
            Assert.Equal(PoolState.Ready, pool.GetStatus().State);

            factory.CloseGate();
            factory.All.First().Die();
            Assert.Equal(PoolState.Backoff, pool.GetStatus().State);
        }
        finally
        {
            await pool.DisposeAsync();
        }

        Assert.Equal(PoolState.Stopped, pool.GetStatus().State);
    }

    [Fact]
    public async Task GetStatus_Counts_IdleBusyStartingLiveOverflowWaiters()
    {
        var time = new FakeTimeProvider();
        var factory = new FakeWorkerFactory();
        var options = Scenario.Options(time, size: 2, maxOverflow: 2);
        await using var pool = await Pool.StartAsync(options, factory);
        var status = pool.GetStatus().Consistent();
        Assert.Equal((options.Name, 2, 2), (status.Name, status.Size, status.MaxOverflow));
        Assert.Equal((2, 0, 0, 2, 0, 0), (status.Idle, status.Busy, status.Starting, status.Live, status.Overflow, status.Waiters));

        var a = await pool.CheckoutAsync();
        status = pool.GetStatus().Consistent();
        Assert.Equal((1, 1, 0, 2, 0, 0), (status.Idle, status.Busy, status.Starting, status.Live, status.Overflow, status.Waiters));

        var b = await pool.CheckoutAsync();
        factory.CloseGate();
        var c = pool.CheckoutAsync().AsTask();
        var d = pool.CheckoutAsync().AsTask();
        var e = pool.CheckoutAsync().AsTask();
        await Scenario.Until(() => factory.StartAttempts == 4, "two overflow starts are in flight");
        status = pool.GetStatus().Consistent();
        // c and d await the starts their checkouts made, e the next worker: all three are waiters.
        Assert.Equal((0, 2, 2, 4, 2, 3), (status.Idle, status.Busy, status.Starting, status.Live, status.Overflow, status.Waiters));
        Assert.Equal(PoolState.Full, status.State);

        factory.OpenGate();
        var (cLease, dLease) = (await c, await d);
        status = pool.GetStatus().Consistent();
        Assert.Equal((0, 4, 0, 4, 2, 1), (status.Idle, status.Busy, status.Starting, status.Live, status.Overflow, status.Waiters));

        a.Dispose(); // to the waiter
        var eLease = await e;
        b.Dispose();
        cLease.Dispose();
        status = pool.GetStatus().Consistent();
        Assert.Equal((0, 2, 0, 2, 0, 0), (status.Idle, status.Busy, status.Starting, status.Live, status.Overflow, status.Waiters));
        dLease.Dispose();
        eLease.Dispose();
        status = pool.GetStatus().Consistent();
        Assert.Equal((2, 0, 0, 2, 0, 0), (status.Idle, status.Busy, status.Starting, status.Live, status.Overflow, status.Waiters));
    }

    [Fact]
    public async Task GetStatus_Totals_CountCheckoutsTimeoutsRejectionsRestartsDeathsAndStartFailures()
    {
        var time = new FakeTimeProvider();
        var boom = new InvalidOperationException("cannot start");
        var factory = new FakeWorkerFactory();
        var options = Scenario.Options(time, size: 1, maxOverflow: 1);
        options.MaxWaiters = 1;
        await using var pool = await Pool.StartAsync(options, factory);

        var a = await pool.CheckoutAsync(); // checkout 1
        factory.FailStart = n => n == 2 ? boom : null;
        await Assert.ThrowsAsync<WorkerStartException>(async () => await pool.CheckoutAsync()); // start failure 1
        var b = await pool.CheckoutAsync(); // checkout 2, start 2 (an overflow start, not a restart)
        var timingOut = pool.CheckoutAsync().AsTask();
        await Assert.ThrowsAsync<PoolRejectedException>(async () => await pool.CheckoutAsync()); // rejection 1
        time.Advance(options.CheckoutTimeout);
        await Assert.ThrowsAsync<PoolTimeoutException>(() => timingOut); // timeout 1
        await Assert.ThrowsAsync<PoolTimeoutException>(async () => await pool.CheckoutAsync(TimeSpan.Zero)); // timeout 2
        b.Dispose(); // overflow, nobody waits: dismissed
        using var c = await pool.CheckoutAsync(); // checkout 3, start 3 (an overflow start again)
        a.Worker.Die(); // death 1; nothing is short, so nothing starts

        var status = pool.GetStatus().Consistent();
        Assert.Equal(3, status.TotalCheckouts);
        Assert.Equal(2, status.TotalTimeouts);
        Assert.Equal(1, status.TotalRejections);
        Assert.Equal(3, status.TotalStarts);
        Assert.Equal(0, status.TotalRestarts); // the death left nothing short: nothing replaced it
        Assert.Equal(1, status.TotalDeaths);
        Assert.Equal(1, status.TotalStartFailures);
        Assert.IsType<LifeguardException>(status.LastFailure);
        a.Dispose();
    }

    [Fact]
    public async Task GetStatus_Workers_ReportIdStateUsesAgeAndDetails()
    {
        var time = new FakeTimeProvider();
        var factory = new FakeWorkerFactory();
        await using var pool = await Pool.StartAsync(Scenario.Options(time, size: 2), factory);
        time.Advance(TimeSpan.FromSeconds(30));
        for (int i = 0; i < 3; i++)
        {
            await pool.RunAsync((w, ct) => w.SquareAsync(i, ct));
        }

        using var lease = await pool.CheckoutAsync();
        time.Advance(TimeSpan.FromSeconds(12));

        var workers = pool.GetStatus().Workers;

        Assert.Equal(factory.All.Select(w => w.Id).Order(), workers.Select(w => w.Id));
        var busy = Assert.Single(workers, w => w.State == WorkerState.Busy);
        var idle = Assert.Single(workers, w => w.State == WorkerState.Idle);
        Assert.Equal(lease.WorkerId, busy.Id);
        Assert.Equal(4, busy.Uses); // LIFO: the same worker served all three runs and the current lease
        Assert.Equal(0, idle.Uses);
        Assert.All(workers, w => Assert.Equal(TimeSpan.FromSeconds(42), w.Age));
        Assert.Equal(3, busy.Details["fake.calls"]);
        Assert.Equal(0, idle.Details["fake.calls"]);
        Assert.All(workers, w => Assert.False(w.RetirePending));
    }

    [Fact]
    public async Task GetStatus_AfterEverySettledStep_OverflowIsLiveMinusSizeAndIdleMeansNoOverflow()
    {
        var time = new FakeTimeProvider();
        var factory = new FakeWorkerFactory();
        var options = Scenario.Options(time, size: 3, maxOverflow: 3);
        options.MaxRestarts = 10_000;
        await using var pool = await Pool.StartAsync(options, factory);
        var random = new Random(1234);
        var held = new List<Lease<FakeWorker>>();

        for (int step = 0; step < 400; step++)
        {
            switch (random.Next(4))
            {
                case 0 or 1:
                    if (await pool.TryCheckoutAsync() is { } lease)
                    {
                        held.Add(lease);
                    }

                    break;
                case 2 when held.Count > 0:
                    int i = random.Next(held.Count);
                    held[i].Dispose();
                    held.RemoveAt(i);
                    break;
                case 3 when held.Count > 0:
                    held[random.Next(held.Count)].Worker.Die();
                    break;
            }

            await Scenario.Until(() => pool.GetStatus().Starting == 0 && factory.Running == pool.GetStatus().Live, "starts and stops settle");
            var s = pool.GetStatus().Consistent();
            Assert.Equal(s.Size + s.Overflow, s.Live);
            Assert.True(s.Idle == 0 || s.Overflow == 0, $"idle workers with overflow: {s}");
            Assert.InRange(s.Live, s.Size, s.Size + s.MaxOverflow);
        }

        held.ForEach(l => l.Dispose());
        await Scenario.Until(() => factory.Running == 3, "the overflow is dismissed");
        Assert.Equal(3, pool.GetStatus().Consistent().Idle);
    }
}
