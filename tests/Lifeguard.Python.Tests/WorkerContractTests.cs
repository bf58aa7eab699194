using Lifeguard.Testing;

namespace Lifeguard.Python.Tests;

/// <summary>
/// The contract every pooled worker keeps with its pool, run once per kind of worker: it starts into the idle set,
/// serves calls on a lease and again on the next, is replaced when it crashes (leased or idle), and is stopped once
/// when the pool stops or is disposed. <see cref="FakeWorkerContractTests"/> runs it on the in-memory worker the core
/// is tested with, <see cref="PythonWorkerContractTests"/> on a real python3 process.
/// </summary>
public abstract class WorkerContractTests<TWorker>
    where TWorker : class
{
    /// <summary>Starts a pool of <paramref name="size"/> workers, no overflow.</summary>
    protected abstract Task<Pool<TWorker>> StartPoolAsync(string name, int size);

    /// <summary>A call served by the worker: x².</summary>
    protected abstract Task<int> SquareAsync(TWorker worker, int x);

    /// <summary>Ends the worker abruptly, as a crash would (its pool is told as it would be of a real one).</summary>
    protected abstract void Crash(TWorker worker);

    /// <summary>Whether the worker has been stopped (or, for a process, is gone).</summary>
    protected abstract bool IsStopped(TWorker worker);

    /// <summary>What tells one worker from its replacement.</summary>
    protected abstract int Identity(TWorker worker);

    [Fact]
    public async Task Start_StartsSizeWorkers_AllIdle()
    {
        await using var pool = await StartPoolAsync("contract-start", size: 2);

        var status = pool.GetStatus();
        Assert.Equal(2, status.Idle);
        Assert.Equal(0, status.Busy);
        Assert.Equal(0, status.Starting);
        Assert.NotEqual(PoolState.Stopped, status.State);
    }

    [Fact]
    public async Task Call_OnALease_ReturnsItsResult_AndTheSameWorkerServesTheNextLease()
    {
        await using var pool = await StartPoolAsync("contract-call", size: 1);

        int first;
        using (var lease = await pool.CheckoutAsync())
        {
            Assert.Equal(49, await SquareAsync(lease.Worker, 7));
            Assert.Equal(1, pool.GetStatus().Busy);
            first = Identity(lease.Worker);
        }

        using (var lease = await pool.CheckoutAsync())
        {
            Assert.Equal(9, await SquareAsync(lease.Worker, 3));
            Assert.Equal(first, Identity(lease.Worker));
        }

        Assert.Equal(1, pool.GetStatus().Idle);
    }

    [Fact]
    public async Task Crash_OfALeasedWorker_ReplacesIt()
    {
        await using var pool = await StartPoolAsync("contract-crash-leased", size: 1);
        var lease = await pool.CheckoutAsync();
        var dead = lease.Worker;

        Crash(dead);

        await FakeWorkerFactory.WaitUntilAsync(() => pool.GetStatus() is { TotalDeaths: 1, Idle: 1 }, "the crashed worker is replaced");
        await FakeWorkerFactory.WaitUntilAsync(() => IsStopped(dead), "the crashed worker is stopped");
        lease.Dispose(); // a lease on a dead worker is returned harmlessly
        await AssertReplacedAsync(pool, Identity(dead));
    }

    [Fact]
    public async Task Crash_OfAnIdleWorker_ReplacesIt()
    {
        await using var pool = await StartPoolAsync("contract-crash-idle", size: 1);
        TWorker dead;
        using (var lease = await pool.CheckoutAsync())
        {
            dead = lease.Worker;
        }

        Crash(dead);

        await FakeWorkerFactory.WaitUntilAsync(() => pool.GetStatus() is { TotalDeaths: 1, TotalRestarts: 1, Idle: 1 }, "the crashed worker is replaced");
        await FakeWorkerFactory.WaitUntilAsync(() => IsStopped(dead), "the crashed worker is stopped");
        await AssertReplacedAsync(pool, Identity(dead));
    }

    [Fact]
    public async Task Stop_StopsEveryWorker_AndRefusesCheckouts()
    {
        var pool = await StartPoolAsync("contract-stop", size: 2);
        var a = await pool.CheckoutAsync();
        var b = await pool.CheckoutAsync();
        var workers = new[] { a.Worker, b.Worker };
        a.Dispose();
        b.Dispose();

        await pool.StopAsync();

        Assert.All(workers, worker => Assert.True(IsStopped(worker)));
        Assert.Equal(PoolState.Stopped, pool.GetStatus().State);
        await Assert.ThrowsAsync<PoolStoppedException>(async () => await pool.CheckoutAsync());
        await pool.DisposeAsync();
    }

    [Fact]
    public async Task Dispose_StopsEveryWorker_AndIsIdempotent()
    {
        var pool = await StartPoolAsync("contract-dispose", size: 1);
        TWorker worker;
        using (var lease = await pool.CheckoutAsync())
        {
            worker = lease.Worker;
            Assert.Equal(4, await SquareAsync(worker, 2));
        }

        await pool.DisposeAsync();
        await pool.DisposeAsync();

        Assert.True(IsStopped(worker));
        Assert.Equal(0, pool.GetStatus().Live);
    }

    private async Task AssertReplacedAsync(Pool<TWorker> pool, int deadIdentity)
    {
        using var lease = await pool.CheckoutAsync();
        Assert.NotEqual(deadIdentity, Identity(lease.Worker));
        Assert.Equal(25, await SquareAsync(lease.Worker, 5));
    }
}

/// <summary>The worker contract on <see cref="FakeWorker"/>, the in-memory worker of the core's tests.</summary>
public sealed class FakeWorkerContractTests : WorkerContractTests<FakeWorker>
{
    protected override Task<Pool<FakeWorker>> StartPoolAsync(string name, int size)
        => Pool.StartAsync(new PoolOptions { Name = name, Size = size, MaxOverflow = 0 }, new FakeWorkerFactory());

    protected override Task<int> SquareAsync(FakeWorker worker, int x) => worker.SquareAsync(x);

    protected override void Crash(FakeWorker worker) => worker.Die(new InvalidOperationException("crashed"));

    protected override bool IsStopped(FakeWorker worker) => worker.StopCount == 1;

    protected override int Identity(FakeWorker worker) => worker.Id;
}

/// <summary>The worker contract on <see cref="PythonWorker"/>: a real python3 process per worker.</summary>
public sealed class PythonWorkerContractTests : WorkerContractTests<PythonWorker>
{
    private readonly PythonTestOptions _options = new();

    protected override async Task<Pool<PythonWorker>> StartPoolAsync(string name, int size)
        => (await PythonPool.StartAsync(_options.For(name, size))).Workers;

    protected override Task<int> SquareAsync(PythonWorker worker, int x) => worker.CallAsync<int>("fixtures", "square", [x]);

    /// <summary>SIGKILL, by the pid the worker holds; its exit is reported to the pool as a crash's.</summary>
    protected override void Crash(PythonWorker worker) => worker.Kill();

    protected override bool IsStopped(PythonWorker worker) => worker.IsDead && !ProcFs.IsRunning(worker.ProcessId);

    protected override int Identity(PythonWorker worker) => worker.ProcessId;

    /// <summary><see cref="PythonTestBase.Options"/>, for a class that derives from the contract instead.</summary>
    private sealed class PythonTestOptions : PythonTestBase
    {
        public PythonPoolOptions For(string name, int size) => Options(name, size);
    }
}
