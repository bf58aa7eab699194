using Lifeguard.Testing;
using Microsoft.Extensions.Time.Testing;

namespace Lifeguard.Tests;

public sealed class RecyclingTests
{
    [Fact]
    public async Task MaxUsesPerWorker_Reached_RetiredAtCheckinAndReplacedInTheBackground()
    {
        var time = new FakeTimeProvider();
        var factory = new FakeWorkerFactory();
        var options = Scenario.Options(time, size: 1);
        options.MaxUsesPerWorker = 3;
        await using var pool = await Pool.StartAsync(options, factory);
        var first = factory.All.Single();

        for (int i = 1; i <= 2; i++)
        {
            using var lease = await pool.CheckoutAsync();
            Assert.Same(first, lease.Worker);
            Assert.Equal(i, pool.GetStatus().Workers.Single().Uses);
        }

        var last = await pool.CheckoutAsync();
        Assert.Same(first, last.Worker);
        factory.CloseGate();
        last.Dispose(); // the third use: retired; the checkin does not wait for the replacement

        var status = pool.GetStatus().Consistent();
        Assert.Equal(0, status.Idle);
        Assert.Equal(1, status.Starting);
        await Scenario.Until(() => first.IsStopped, "the retired worker is stopped");
        factory.OpenGate();
        using var next = await pool.CheckoutAsync();
        Assert.NotSame(first, next.Worker);
        status = pool.GetStatus().Consistent();
        Assert.Equal(1, status.TotalRestarts);
        Assert.Equal(0, status.TotalDeaths);
        Assert.Equal(1, status.Workers.Single().Uses);
    }

    [Fact]
    public async Task MaxUsesJitter_EachWorkersLimitIsBetweenMaxAndMaxPlusJitter()
    {
        var time = new FakeTimeProvider();
        var factory = new FakeWorkerFactory();
        var options = Scenario.Options(time, size: 1);
        options.MaxUsesPerWorker = 2;
        options.MaxUsesJitter = 3;
        await using var pool = await Pool.StartAsync(options, factory);

        var sequence = new List<int>();
        for (int i = 0; i < 400; i++)
        {
            using var lease = await pool.CheckoutAsync();
            sequence.Add(lease.WorkerId);
        }

        // Every worker but the last has retired: count how many leases each one served.
        var uses = sequence.GroupBy(id => id).Select(g => (Id: g.Key, Count: g.Count())).ToList();
        var retired = uses.SkipLast(1).ToList();
        Assert.True(retired.Count > 60, $"{retired.Count} workers retired");
        Assert.All(retired, w => Assert.InRange(w.Count, 2, 5));
        Assert.Equal([2, 3, 4, 5], retired.Select(w => w.Count).Distinct().Order());
        Assert.True(sequence.Zip(sequence.Skip(1)).All(p => p.First <= p.Second), "a retired worker never came back");
    }

    [Fact]
    public async Task MaxWorkerLifetime_Passed_RetiredAtCheckin()
    {
        var time = new FakeTimeProvider();
        var factory = new FakeWorkerFactory();
        var options = Scenario.Options(time, size: 1);
        options.MaxWorkerLifetime = TimeSpan.FromMinutes(10);
        await using var pool = await Pool.StartAsync(options, factory);
        var first = factory.All.Single();
        time.Advance(TimeSpan.FromMinutes(9));
        using (var young = await pool.CheckoutAsync())
        {
            Assert.Same(first, young.Worker);
        }

        var lease = await pool.CheckoutAsync();
        time.Advance(TimeSpan.FromMinutes(1));
        Assert.False(first.IsStopped); // not while leased: at checkin
        Assert.Equal(TimeSpan.FromMinutes(10), pool.GetStatus().Workers.Single().Age);
        lease.Dispose();

        using var next = await pool.CheckoutAsync();
        Assert.NotSame(first, next.Worker);
        await Scenario.Until(() => first.IsStopped, "the old worker is stopped");
        Assert.Equal(TimeSpan.Zero, pool.GetStatus().Workers.Single().Age);
    }

    [Fact]
    public async Task MaxUsesPerWorker_ReachedWhileCallersWait_ServesThemFirstAndRetiresLater()
    {
        var time = new FakeTimeProvider();
        var factory = new FakeWorkerFactory();
        var options = Scenario.Options(time, size: 1);
        options.MaxUsesPerWorker = 1;
        await using var pool = await Pool.StartAsync(options, factory);
        var held = await pool.CheckoutAsync();
        var worker = held.Worker;
        var waiting = pool.CheckoutAsync().AsTask();

        held.Dispose();

        var lease = await waiting;
        Assert.Same(worker, lease.Worker);
        Assert.True(pool.GetStatus().Workers.Single().RetirePending);
        Assert.False(worker.IsStopped);
        lease.Dispose();
        await Scenario.Until(() => worker.IsStopped && pool.GetStatus().Idle == 1, "the worker retires once nobody waits");
        Assert.Equal(2, factory.Started);
    }

    [Fact]
    public async Task RecycleAll_IdleWorkers_ReplacedOneAtATime()
    {
        var time = new FakeTimeProvider();
        var factory = new SteppingWorkerFactory();
        factory.Release(3);
        await using var pool = await Pool.StartAsync(Scenario.Options(time, size: 3), factory);
        var old = factory.Inner.All.ToList();

        pool.RecycleAll();

        for (int step = 1; step <= 3; step++)
        {
            await Scenario.Until(
                () => factory.Inner.Stops == step && factory.Waiting == 1,
                $"old worker {step} is stopped and its replacement is starting");
            var status = pool.GetStatus().Consistent();
            Assert.Equal(2, status.Idle); // never more than one ready worker missing
            Assert.Equal(1, status.Starting);
            Assert.Equal(3 - step, status.Workers.Count(w => w.RetirePending));
            factory.Release();
        }

        await Scenario.Until(() => pool.GetStatus().Idle == 3, "the last replacement is idle");
        var final = pool.GetStatus().Consistent();
        Assert.All(old, w => Assert.True(w.IsStopped));
        Assert.DoesNotContain(final.Workers, w => old.Any(o => o.Id == w.Id));
        Assert.DoesNotContain(final.Workers, w => w.RetirePending);
        Assert.Equal(6, factory.Inner.Started);
        Assert.Equal(0, final.TotalDeaths);
    }

    [Fact]
    public async Task RecycleAll_BusyWorker_RetiredAtItsCheckin()
    {
        var time = new FakeTimeProvider();
        var factory = new FakeWorkerFactory();
        await using var pool = await Pool.StartAsync(Scenario.Options(time, size: 2), factory);
        var busy = await pool.CheckoutAsync();
        var busyWorker = busy.Worker;

        pool.RecycleAll();

        await Scenario.Until(() => factory.Started == 3 && pool.GetStatus().Idle == 1, "the idle worker is replaced");
        Assert.False(busyWorker.IsStopped);
        Assert.True(pool.GetStatus().Workers.Single(w => w.Id == busy.WorkerId).RetirePending);
        busy.Dispose();
        await Scenario.Until(() => busyWorker.IsStopped && pool.GetStatus().Idle == 2, "the busy worker retires at checkin");
        Assert.Equal(4, factory.Started);
        Assert.DoesNotContain(pool.GetStatus().Workers, w => w.RetirePending);
    }

    [Fact]
    public async Task RecycleAll_CallersWaiting_NeverRetiresAWorkerTheyCouldGet()
    {
        var time = new FakeTimeProvider();
        var factory = new FakeWorkerFactory();
        await using var pool = await Pool.StartAsync(Scenario.Options(time, size: 1), factory);
        var held = await pool.CheckoutAsync();
        var worker = held.Worker;
        var first = pool.CheckoutAsync().AsTask();
        var second = pool.CheckoutAsync().AsTask();

        pool.RecycleAll();
        held.Dispose();

        var a = await first;
        Assert.Same(worker, a.Worker);
        a.Dispose();
        var b = await second;
        Assert.Same(worker, b.Worker);
        Assert.False(worker.IsStopped);
        b.Dispose();
        await Scenario.Until(() => worker.IsStopped && pool.GetStatus().Idle == 1, "the worker retires once nobody waits");
        Assert.Equal(2, factory.Started);
    }

    [Fact]
    public async Task RecycleAll_InBackoff_NeverRetiresIdleWorkersThatCannotBeReplaced()
    {
        var time = new FakeTimeProvider();
        var factory = new FakeWorkerFactory();
        var options = Scenario.Options(time, size: 3);
        options.MaxRestarts = 0;
        await using var pool = await Pool.StartAsync(options, factory);
        factory.FailStart = _ => new InvalidOperationException("cannot start");
        factory.All.First().Die();
        Assert.Equal(PoolState.Backoff, pool.GetStatus().State);
        Assert.Equal(2, pool.GetStatus().Idle);

        pool.RecycleAll();

        // One at a time means: the next idle worker goes only once the previous one's replacement is up.
        var status = pool.GetStatus().Consistent();
        Assert.True(status.Idle >= 1, $"every idle worker was retired at once: {status}");
        using var lease = await pool.CheckoutAsync(); // in backoff, idle workers are still handed out
    }

    [Fact]
    public async Task MaxUsesPerWorker_ReachedInBackoff_KeepsTheWorkerItCannotReplace()
    {
        var time = new FakeTimeProvider();
        var factory = new FakeWorkerFactory();
        var options = Scenario.Options(time, size: 1, maxOverflow: 1);
        options.MaxRestarts = 0;
        options.MaxUsesPerWorker = 2;
        await using var pool = await Pool.StartAsync(options, factory);
        var first = await pool.CheckoutAsync();
        factory.FailStart = _ => new InvalidOperationException("cannot start");
        await Assert.ThrowsAsync<WorkerStartException>(async () => await pool.CheckoutAsync());
        Assert.Equal(PoolState.Backoff, pool.GetStatus().State);
        first.Dispose();

        var second = await pool.CheckoutAsync();
        second.Dispose(); // its second use: due for retirement, but no replacement can start

        using var lease = await pool.CheckoutAsync();
        Assert.Equal(first.WorkerId, lease.WorkerId);
    }
}
