using Lifeguard.Testing;
using Microsoft.Extensions.Time.Testing;

namespace Lifeguard.Tests;

/// <summary>An operator's kill: by id, idle or leased, with or without the factory's own way to kill.</summary>
public sealed class KillTests
{
    [Fact]
    public async Task KillWorkerAsync_IdleCoreWorker_RemovedReplacedAndNotCountedAsADeath()
    {
        var factory = new FakeWorkerFactory();
        var options = Scenario.Options(new FakeTimeProvider(), size: 2);
        options.MaxRestarts = 0; // a kill counted as a failure would put the pool into backoff at once
        await using var pool = await Pool.StartAsync(options, factory);
        using var events = pool.SubscribeToEvents();
        var victim = factory.All.First();

        var result = await pool.KillWorkerAsync(victim.Id, "dashboard");

        Assert.Equal(WorkerKillResult.Killed, result);
        Assert.DoesNotContain(pool.GetStatus().Workers, w => w.Id == victim.Id); // gone by the time the kill returns
        var seen = await events.ReadUntilAllAsync(PoolEventKind.WorkerKilled, PoolEventKind.WorkerStopped, PoolEventKind.WorkerStarted);
        var killed = seen.Single(e => e.Kind == PoolEventKind.WorkerKilled);
        Assert.Equal(victim.Id, killed.WorkerId);
        Assert.Equal("dashboard", killed.Source);
        Assert.Equal(WorkerStopReason.Killed, killed.StopReason);
        Assert.Equal($"Worker {victim.Id} was killed by dashboard: Worker {victim.Id} of pool '{options.Name}' was killed on request by dashboard.", killed.Detail);
        Assert.Equal(WorkerStopReason.Killed, seen.Single(e => e.Kind == PoolEventKind.WorkerStopped).StopReason);
        Assert.DoesNotContain(seen, e => e.Kind == PoolEventKind.WorkerDied);
        await Scenario.Until(() => pool.GetStatus().Idle == 2, "the killed worker is replaced");
        var status = pool.GetStatus().Consistent();
        Assert.Equal(PoolState.Ready, status.State);
        Assert.Equal(0, status.TotalDeaths);
        Assert.Equal(1, status.TotalRestarts);
        Assert.True(victim.IsStopped);
    }

    [Fact]
    public async Task KillWorkerAsync_LeasedCoreWorker_LeaseBecomesANoOpAndAWaiterGetsTheReplacement()
    {
        var factory = new FakeWorkerFactory();
        await using var pool = await Pool.StartAsync(Scenario.Options(new FakeTimeProvider(), size: 1), factory);
        var held = await pool.CheckoutAsync();
        var waiting = pool.CheckoutAsync().AsTask();

        var result = await pool.KillWorkerAsync(held.WorkerId);

        Assert.Equal(WorkerKillResult.Killed, result);
        using var lease = await waiting;
        Assert.Equal(2, lease.WorkerId);
        held.Dispose(); // a no-op: the worker is gone already
        var status = pool.GetStatus().Consistent();
        Assert.Equal(1, status.Busy);
        Assert.Equal(0, status.Idle);
    }

    [Fact]
    public async Task KillWorkerAsync_UnknownId_NotFound()
    {
        var factory = new FakeWorkerFactory();
        await using var pool = await Pool.StartAsync(Scenario.Options(new FakeTimeProvider(), size: 1), factory);

        Assert.Equal(WorkerKillResult.NotFound, await pool.KillWorkerAsync(99));
        Assert.Equal(1, pool.GetStatus().Workers.Single().Id); // nothing else was touched

        factory.All.Single().Die();
        Assert.Equal(WorkerKillResult.NotFound, await pool.KillWorkerAsync(1)); // it has left already
    }

    [Fact]
    public async Task KillWorkerAsync_StoppedPool_PoolStopped()
    {
        var pool = await Pool.StartAsync(Scenario.Options(new FakeTimeProvider(), size: 1), new FakeWorkerFactory());
        await pool.StopAsync();

        Assert.Equal(WorkerKillResult.PoolStopped, await pool.KillWorkerAsync(1));
    }

    [Fact]
    public async Task KillWorkerAsync_FactoryKills_WorkerReportsItsExitAndTheEventCarriesIt()
    {
        var factory = new KillingFactory(reports: true);
        await using var pool = await Pool.StartAsync(Scenario.Options(new FakeTimeProvider(), size: 1), factory);
        using var events = pool.SubscribeToEvents();

        var result = await pool.KillWorkerAsync(1, "ops");

        Assert.Equal(WorkerKillResult.Killed, result);
        Assert.Equal(1, factory.Kills);
        var killed = await events.NextAsync(PoolEventKind.WorkerKilled);
        Assert.Equal(137, killed.ExitCode);
        Assert.Equal(9, killed.Signal);
        Assert.Equal(["bye"], killed.OutputTail);
        Assert.Equal("Worker 1 was killed by ops: killed by signal 9 (exit code 137).", killed.Detail);
        Assert.Equal(0, pool.GetStatus().TotalDeaths);
    }

    [Fact]
    public async Task KillWorkerAsync_FactoryKillsButTheWorkerNeverReports_PoolReportsItAfterFiveSeconds()
    {
        var time = new FakeTimeProvider();
        var factory = new KillingFactory(reports: false);
        await using var pool = await Pool.StartAsync(Scenario.Options(time, size: 1), factory);

        var kill = pool.KillWorkerAsync(1);
        Assert.False(kill.IsCompleted);
        Assert.Single(pool.GetStatus().Workers);
        time.Advance(TimeSpan.FromSeconds(5));

        Assert.Equal(WorkerKillResult.Killed, await kill);
        Assert.DoesNotContain(pool.GetStatus().Workers, w => w.Id == 1);
    }

    [Fact]
    public async Task KillWorkerAsync_KillerThrows_WorkerStillTreatedAsDead()
    {
        var factory = new KillingFactory(reports: true) { Fail = true };
        await using var pool = await Pool.StartAsync(Scenario.Options(new FakeTimeProvider(), size: 1), factory);

        Assert.Equal(WorkerKillResult.Killed, await pool.KillWorkerAsync(1));

        Assert.DoesNotContain(pool.GetStatus().Workers, w => w.Id == 1);
    }

    [Fact]
    public async Task KillWorkerAsync_TwiceConcurrently_KillsOnceBothReturnKilled()
    {
        var time = new FakeTimeProvider();
        var factory = new KillingFactory(reports: false);
        await using var pool = await Pool.StartAsync(Scenario.Options(time, size: 1), factory);

        var first = pool.KillWorkerAsync(1);
        var second = pool.KillWorkerAsync(1);
        time.Advance(TimeSpan.FromSeconds(5));

        Assert.Equal(WorkerKillResult.Killed, await first);
        Assert.Equal(WorkerKillResult.Killed, await second);
        Assert.Equal(1, factory.Kills);
    }

    /// <summary>A factory that kills its workers its own way; the worker reports the exit (or, to test the bound, does not).</summary>
    private sealed class KillingFactory(bool reports) : FakeWorkerFactory, IWorkerKiller<FakeWorker>
    {
        private int _kills;

        public int Kills => Volatile.Read(ref _kills);

        public bool Fail { get; init; }

        public void Kill(FakeWorker worker)
        {
            Interlocked.Increment(ref _kills);
            if (Fail)
            {
                throw new InvalidOperationException("no such process");
            }

            if (reports)
            {
                worker.Die(new ProcessCrash("killed", exitCode: 137, signal: 9, tail: ["bye"]));
            }
        }
    }
}
