using System.Collections.Concurrent;
using Lifeguard.Testing;
using Microsoft.Extensions.Time.Testing;

namespace Lifeguard.Tests;

/// <summary>Rolling reload with rollback: a canary first, then every old worker replaced before it leaves.</summary>
public sealed class ReloadTests
{
    [Fact]
    public async Task ReloadAsync_IdleWorkers_AllReplacedByTheNewGenerationInTheirSlots()
    {
        var factory = new VersionedFactory();
        await using var pool = await Pool.StartAsync(Scenario.Options(new FakeTimeProvider(), size: 3), factory);
        var old = factory.Inner.All.ToList();
        Assert.Equal(1, pool.GetStatus().Generation);
        factory.Version = 2;

        await pool.ReloadAsync();

        var status = pool.GetStatus().Consistent();
        Assert.Equal(2, status.Generation);
        Assert.Equal(3, status.Idle);
        Assert.All(status.Workers, w => Assert.Equal(2, w.Generation));
        Assert.All(status.Workers, w => Assert.Equal(2, factory.VersionOf(w.Id)));
        Assert.Equal([0, 1, 2], status.Workers.Select(w => w.Slot).Order());
        Assert.Equal(3, status.TotalRestarts);
        await Scenario.Until(() => old.All(w => w.IsStopped), "the old workers are stopped");
        Assert.Equal(6, factory.Inner.Started);
    }

    [Fact]
    public async Task ReloadAsync_CanaryFails_NothingChangesAndItThrows()
    {
        var factory = new VersionedFactory();
        await using var pool = await Pool.StartAsync(Scenario.Options(new FakeTimeProvider(), size: 2), factory);
        var before = pool.GetStatus();
        factory.Inner.FailStart = _ => new InvalidOperationException("SyntaxError: invalid syntax");

        var ex = await Assert.ThrowsAsync<WorkerStartException>(() => pool.ReloadAsync());

        Assert.Contains("SyntaxError", ex.InnerException?.Message, StringComparison.Ordinal);
        var status = pool.GetStatus().Consistent();
        Assert.Equal(1, status.Generation);
        Assert.Equal(before.Workers.Select(w => w.Id), status.Workers.Select(w => w.Id));
        Assert.All(status.Workers, w => Assert.False(w.RetirePending));
        Assert.Equal(0, status.Replacing);
        Assert.Equal(2, status.Idle);
        Assert.All(factory.Inner.All, w => Assert.False(w.IsStopped));

        // The pool still serves, and a later reload works.
        factory.Inner.FailStart = null;
        factory.Version = 2;
        await pool.ReloadAsync();
        Assert.Equal(2, pool.GetStatus().Generation);
        using var lease = await pool.CheckoutAsync();
        Assert.Equal(2, factory.VersionOf(lease.WorkerId));
    }

    [Fact]
    public async Task ReloadAsync_CanaryMayTakeThePoolOneOverItsCap()
    {
        var factory = new SteppingWorkerFactory();
        factory.Release(2);
        await using var pool = await Pool.StartAsync(Scenario.Options(new FakeTimeProvider(), size: 2), factory);

        var reload = pool.ReloadAsync();

        await Scenario.Until(() => factory.Waiting == 1, "the canary is starting");
        var status = pool.GetStatus().Consistent();
        Assert.Equal(3, status.Live); // one over Size + MaxOverflow
        Assert.Equal(2, status.Idle);
        Assert.Equal(1, status.Generation); // not until the canary is up
        factory.Release(); // the canary
        await Scenario.Until(
            () => factory.Inner.Started == 3 && factory.Waiting == 1 && pool.GetStatus().Generation == 2,
            "the second old worker's replacement is starting");
        status = pool.GetStatus().Consistent();
        Assert.Equal(2, status.Generation);
        Assert.Equal(2, status.Idle); // the canary, and the old worker that serves until its replacement is up
        Assert.Equal(3, status.Live);
        Assert.False(reload.IsCompleted); // an old worker is still idle
        factory.Release();
        await reload;
        status = pool.GetStatus().Consistent();
        Assert.All(status.Workers, w => Assert.Equal(2, w.Generation));
        Assert.Equal(2, status.Live);
    }

    [Fact]
    public async Task ReloadAsync_BusyWorkers_RetireAtTheirCheckinAndNoCallStartsOnOldCodeAfterItReturns()
    {
        var factory = new VersionedFactory();
        await using var pool = await Pool.StartAsync(Scenario.Options(new FakeTimeProvider(), size: 2), factory);
        var busy = await pool.CheckoutAsync();
        var busyWorker = busy.Worker;
        factory.Version = 2;

        await pool.ReloadAsync(); // returns while the busy old worker is still out

        var status = pool.GetStatus().Consistent();
        Assert.Equal(2, status.Generation);
        var oldOne = status.Workers.Single(w => w.Id == busy.WorkerId);
        Assert.Equal(1, oldOne.Generation);
        Assert.True(oldOne.RetirePending);
        Assert.DoesNotContain(status.Workers, w => w.Generation == 1 && w.State == WorkerState.Idle);

        busy.Dispose(); // old code never serves again: it leaves now

        await Scenario.Until(() => busyWorker.IsStopped && pool.GetStatus().Idle == 2, "the old worker is replaced");
        for (int i = 0; i < 4; i++)
        {
            using var lease = await pool.CheckoutAsync();
            Assert.Equal(2, factory.VersionOf(lease.WorkerId));
        }

        Assert.All(pool.GetStatus().Workers, w => Assert.Equal(2, w.Generation));
    }

    [Fact]
    public async Task ReloadAsync_CallersWait_ReadyWorkersNeverDropBelowSize()
    {
        var factory = new SteppingWorkerFactory();
        factory.Release(2);
        await using var pool = await Pool.StartAsync(Scenario.Options(new FakeTimeProvider(), size: 2, maxOverflow: 1), factory);
        var a = await pool.CheckoutAsync();
        var reload = pool.ReloadAsync();
        await Scenario.Until(() => factory.Waiting == 1, "the canary is starting");
        var b = await pool.CheckoutAsync(); // the old idle worker still serves while the canary starts
        var waiting = pool.CheckoutAsync().AsTask(); // the cap is reached (the canary counts): this caller waits
        var status = pool.GetStatus().Consistent();
        Assert.Equal(1, status.Waiters);
        Assert.Equal(2, status.Busy);

        factory.Release(); // the canary joins: it serves the waiting caller, and the worker it replaces leaves at its checkin

        var c = await waiting;
        status = pool.GetStatus().Consistent();
        Assert.Equal(3, status.Busy);
        Assert.Equal(2, status.Generation);
        Assert.Equal(2, status.Workers.Single(w => w.Id == c.WorkerId).Generation);
        await reload; // no old worker is idle or starting
        var more = pool.CheckoutAsync().AsTask(); // waits: everything is busy
        b.Dispose(); // the canary's old worker: it leaves, and no caller gets old code

        status = pool.GetStatus().Consistent();
        Assert.True(status.Idle + status.Busy >= 2, $"ready workers dropped below the size: {status}");
        Assert.False(more.IsCompleted);
        c.Dispose();
        using var d = await more;
        Assert.Equal(c.WorkerId, d.WorkerId);
        a.Dispose();
        factory.Release(2);
        await Scenario.Until(() => pool.GetStatus() is { Starting: 0, Idle: 1, Busy: 1 }, "the last old worker is replaced");
        Assert.All(pool.GetStatus().Workers, w => Assert.Equal(2, w.Generation));
    }

    [Fact]
    public async Task ReloadAsync_SteadyLoad_EveryCallAfterItReturnsRunsTheNewCode()
    {
        const int size = 3;
        var factory = new VersionedFactory();
        await using var pool = await Pool.StartAsync(Scenario.Options(new FakeTimeProvider(), size: size, maxOverflow: 2), factory);
        var leases = new Queue<Lease<FakeWorker>>();
        for (int i = 0; i < size - 1; i++)
        {
            leases.Enqueue(await pool.CheckoutAsync());
        }

        factory.Version = 2;
        var reload = pool.ReloadAsync();
        int waitedBefore = 0;
        int steps = 0;
        while (!reload.IsCompleted)
        {
            Assert.True(++steps < 100_000, "the reload did not finish under load");
            leases.Dequeue().Dispose();
            var next = pool.CheckoutAsync(TimeSpan.Zero);
            waitedBefore += next.IsCompletedSuccessfully ? 0 : 1;
            leases.Enqueue(await next);
            await Task.Yield();
        }

        await reload;
        for (int i = 0; i < 50; i++)
        {
            leases.Dequeue().Dispose();
            var lease = await pool.CheckoutAsync();
            Assert.Equal(2, factory.VersionOf(lease.WorkerId));
            leases.Enqueue(lease);
        }

        Assert.Equal(0, waitedBefore);
        while (leases.Count > 0)
        {
            leases.Dequeue().Dispose();
        }

        await Scenario.Until(() => pool.GetStatus() is { Starting: 0, Replacing: 0, Idle: size }, "the pool settles");
        Assert.All(pool.GetStatus().Workers, w => Assert.Equal(2, w.Generation));
    }

    [Fact]
    public async Task ReloadAsync_ConcurrentCalls_RunOneAfterTheOther()
    {
        var factory = new VersionedFactory();
        await using var pool = await Pool.StartAsync(Scenario.Options(new FakeTimeProvider(), size: 2), factory);
        factory.Version = 2;

        await Task.WhenAll(pool.ReloadAsync(), pool.ReloadAsync("second"));

        var status = pool.GetStatus().Consistent();
        Assert.Equal(3, status.Generation);
        Assert.All(status.Workers, w => Assert.Equal(3, w.Generation));
    }

    [Fact]
    public async Task ReloadAsync_NoRoomForTheCanary_WaitsForIt_AndACancelledWaitWithdrawsIt()
    {
        var factory = new SteppingWorkerFactory();
        factory.Release(1);
        await using var pool = await Pool.StartAsync(Scenario.Options(new FakeTimeProvider(), size: 1), factory);
        var held = await pool.CheckoutAsync();
        var first = pool.ReloadAsync();
        factory.Release(); // the canary joins; the old worker, leased, leaves at its checkin
        await first;
        Assert.Equal(2, pool.GetStatus().Live); // one over the cap until that checkin

        using var cancel = new CancellationTokenSource();
        var second = pool.ReloadAsync(cancel.Token);
        Assert.False(second.IsCompleted); // never two over the cap: its canary waits for room
        Assert.Equal(0, factory.Waiting);
        cancel.Cancel();

        await Assert.ThrowsAnyAsync<OperationCanceledException>(() => second);
        held.Dispose(); // room now, but the withdrawn canary does not start
        await Scenario.Until(() => pool.GetStatus() is { Live: 1, Idle: 1 }, "the old worker leaves");
        Assert.Equal(2, pool.GetStatus().Generation);
        Assert.Equal(0, factory.Waiting);
        Assert.Equal(2, factory.Inner.StartAttempts);

        // And without a cancel, the canary starts as soon as there is room.
        var again = await pool.CheckoutAsync();
        var third = pool.ReloadAsync();
        await Scenario.Until(() => factory.Waiting == 1, "room for one over: the canary starts at once");
        factory.Release();
        await third;
        again.Dispose();
        Assert.Equal(3, pool.GetStatus().Generation);
    }

    [Fact]
    public async Task ReloadAsync_PoolStopsDuringTheCanary_ThrowsStoppedAndStopsEveryWorker()
    {
        var factory = new SteppingWorkerFactory();
        factory.Release(2);
        var pool = await Pool.StartAsync(Scenario.Options(new FakeTimeProvider(), size: 2), factory);
        var reload = pool.ReloadAsync();
        await Scenario.Until(() => factory.Waiting == 1, "the canary is starting");

        await pool.StopAsync();

        await Assert.ThrowsAsync<PoolStoppedException>(() => reload);
        Assert.Equal(factory.Inner.Started, factory.Inner.Stops);
        await Assert.ThrowsAsync<PoolStoppedException>(() => pool.ReloadAsync());
    }

    [Fact]
    public async Task ReloadAsync_PoolStopsDuringTheRollOut_ThrowsStoppedAndStopsEveryWorker()
    {
        var factory = new SteppingWorkerFactory();
        factory.Release(2);
        var pool = await Pool.StartAsync(Scenario.Options(new FakeTimeProvider(), size: 2), factory);
        var reload = pool.ReloadAsync();
        factory.Release(); // the canary
        await Scenario.Until(
            () => factory.Inner.Started == 3 && pool.GetStatus().Generation == 2 && factory.Waiting == 1, "the roll-out is under way");

        await pool.StopAsync();

        await Assert.ThrowsAsync<PoolStoppedException>(() => reload);
        Assert.Equal(factory.Inner.Started, factory.Inner.Stops);
    }

    [Fact]
    public async Task ReloadAsync_Metrics_CarryThePoolsAndTheWorkersGenerations()
    {
        using var metrics = new TestMetrics();
        using var generation = metrics.Collect<int>("lifeguard.pool.generation");
        using var byGeneration = metrics.Collect<int>("lifeguard.pool.workers.by_generation");
        var factory = new VersionedFactory();
        await using var pool = await Pool.StartAsync(Scenario.Options(new FakeTimeProvider(), size: 2, metrics: metrics), factory);
        var busy = await pool.CheckoutAsync();

        await pool.ReloadAsync();

        generation.RecordObservableInstruments();
        byGeneration.RecordObservableInstruments();
        Assert.Equal(2, Assert.Single(generation.GetMeasurementSnapshot()).Value);
        var counts = byGeneration.GetMeasurementSnapshot()
            .ToDictionary(m => (int)m.Tags["lifeguard.worker.generation"]!, m => m.Value);
        Assert.Equal(1, counts[1]); // the busy old worker
        Assert.Equal(1, counts[2]);
        busy.Dispose();
    }

    /// <summary>Stamps each worker with the "code version" current when its start began.</summary>
    private sealed class VersionedFactory : IWorkerFactory<FakeWorker>
    {
        private readonly ConcurrentDictionary<int, int> _versions = new();

        public FakeWorkerFactory Inner { get; } = new();

        public int Version { get; set; } = 1;

        public int VersionOf(int workerId) => _versions[workerId];

        public ValueTask<FakeWorker> StartAsync(WorkerContext context, CancellationToken cancellationToken)
        {
            _versions[context.WorkerId] = Version;
            return Inner.StartAsync(context, cancellationToken);
        }

        public ValueTask StopAsync(FakeWorker worker) => Inner.StopAsync(worker);
    }
}
