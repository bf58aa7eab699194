using Lifeguard.Testing;
using Microsoft.Extensions.Time.Testing;

namespace Lifeguard.Tests;

public sealed class RegistryTests
{
    [Fact]
    public async Task StartPoolAsync_TwoPools_LookedUpByName()
    {
        var time = new FakeTimeProvider();
        await using var registry = new PoolRegistry();
        var readOptions = Scenario.Options(time, size: 2);
        var writeOptions = Scenario.Options(time, size: 1);

        var read = await registry.StartPoolAsync(readOptions, new FakeWorkerFactory());
        var write = await registry.StartPoolAsync(writeOptions, new FakeWorkerFactory());

        Assert.Equal(
            new[] { readOptions.Name, writeOptions.Name }.Order(StringComparer.Ordinal),
            registry.Names.Order(StringComparer.Ordinal));
        Assert.True(registry.TryGet(readOptions.Name, out var found));
        Assert.Same(read, found);
        Assert.Equal(typeof(FakeWorker), found.WorkerType);
        Assert.Same(write, registry.Get<FakeWorker>(writeOptions.Name));
        Assert.True(registry.TryGet<FakeWorker>(writeOptions.Name, out var typed));
        Assert.Same(write, typed);
        Assert.False(registry.TryGet<string>(writeOptions.Name, out _));
        Assert.Throws<KeyNotFoundException>(() => registry.Get<string>(writeOptions.Name));
        Assert.False(registry.TryGet("nope", out _));
        Assert.Throws<KeyNotFoundException>(() => registry.Get<FakeWorker>("nope"));
        var statuses = registry.GetStatuses();
        Assert.Equal(2, statuses[readOptions.Name].Idle);
        Assert.Equal(1, statuses[writeOptions.Name].Idle);
    }

    [Fact]
    public async Task StartPoolAsync_DuplicateName_Rejected()
    {
        var time = new FakeTimeProvider();
        await using var registry = new PoolRegistry();
        var options = Scenario.Options(time, size: 1);
        var pool = await registry.StartPoolAsync(options, new FakeWorkerFactory());
        var second = new FakeWorkerFactory();

        var ex = await Assert.ThrowsAsync<InvalidOperationException>(() => registry.StartPoolAsync(options, second));

        Assert.Contains(options.Name, ex.Message, StringComparison.Ordinal);
        Assert.Equal(0, second.StartAttempts);
        Assert.Same(pool, registry.Get<FakeWorker>(options.Name));
        Assert.Throws<InvalidOperationException>(() => registry.Add(pool));
        using var lease = await pool.CheckoutAsync();
    }

    [Fact]
    public async Task StartPoolAsync_DuplicateNameWhileTheFirstIsStarting_Rejected()
    {
        var time = new FakeTimeProvider();
        await using var registry = new PoolRegistry();
        var options = Scenario.Options(time, size: 1);
        var slow = new FakeWorkerFactory();
        slow.CloseGate();
        var starting = registry.StartPoolAsync(options, slow);
        await Scenario.Until(() => slow.StartAttempts == 1, "the first pool is starting");

        await Assert.ThrowsAsync<InvalidOperationException>(() => registry.StartPoolAsync(options, new FakeWorkerFactory()));

        slow.OpenGate();
        var pool = await starting;
        Assert.Same(pool, registry.Get<FakeWorker>(options.Name));
    }

    [Fact]
    public async Task StartPoolAsync_StartFails_NameIsFreeAgain()
    {
        var time = new FakeTimeProvider();
        await using var registry = new PoolRegistry();
        var options = Scenario.Options(time, size: 2);
        var failing = new FakeWorkerFactory { FailStart = _ => new InvalidOperationException("cannot start") };

        await Assert.ThrowsAsync<WorkerStartException>(() => registry.StartPoolAsync(options, failing));

        Assert.Empty(registry.Names);
        Assert.Equal(0, failing.Running);
        var pool = await registry.StartPoolAsync(options, new FakeWorkerFactory());
        Assert.Same(pool, registry.Get<FakeWorker>(options.Name));
    }

    [Fact]
    public async Task StopPoolAsync_TwoPools_StopsAndUnregistersThatOneOnly()
    {
        var time = new FakeTimeProvider();
        await using var registry = new PoolRegistry();
        var (aOptions, bOptions) = (Scenario.Options(time, size: 2), Scenario.Options(time, size: 2));
        var (aFactory, bFactory) = (new FakeWorkerFactory(), new FakeWorkerFactory());
        var a = await registry.StartPoolAsync(aOptions, aFactory);
        var b = await registry.StartPoolAsync(bOptions, bFactory);
        using var bLease = await b.CheckoutAsync();

        Assert.True(await registry.StopPoolAsync(aOptions.Name));

        Assert.False(await registry.StopPoolAsync(aOptions.Name));
        Assert.Equal([bOptions.Name], registry.Names);
        Assert.Equal(0, aFactory.Running);
        await Assert.ThrowsAsync<PoolStoppedException>(async () => await a.CheckoutAsync());
        var status = b.GetStatus().Consistent();
        Assert.Equal(PoolState.Ready, status.State);
        Assert.Equal(1, status.Busy);
        Assert.True(bLease.IsActive);
        Assert.Equal(2, bFactory.Running);
        using var another = await b.CheckoutAsync();
    }

    [Fact]
    public async Task StartPoolAsync_OnePoolInBackoff_OtherPoolUnaffected()
    {
        var time = new FakeTimeProvider();
        await using var registry = new PoolRegistry();
        var sickOptions = Scenario.Options(time, size: 2, maxOverflow: 1);
        sickOptions.MaxRestarts = 0;
        var healthyOptions = Scenario.Options(time, size: 2, maxOverflow: 1);
        var (sickFactory, healthyFactory) = (new FakeWorkerFactory(), new FakeWorkerFactory());
        var sick = await registry.StartPoolAsync(sickOptions, sickFactory);
        var healthy = await registry.StartPoolAsync(healthyOptions, healthyFactory);

        sickFactory.FailStart = _ => new InvalidOperationException("cannot start");
        sickFactory.All.First().Die();
        Assert.Equal(PoolState.Backoff, sick.GetStatus().State);
        time.Advance(TimeSpan.FromMinutes(1)); // the sick pool's retries fail, on the shared clock
        using (var survivor = await sick.CheckoutAsync())
        {
            await Assert.ThrowsAsync<PoolBackoffException>(async () => await sick.CheckoutAsync());
        }

        var status = healthy.GetStatus().Consistent();
        Assert.Equal(PoolState.Ready, status.State);
        Assert.Equal(0, status.TotalDeaths + status.TotalStartFailures);
        var leases = new[] { await healthy.CheckoutAsync(), await healthy.CheckoutAsync(), await healthy.CheckoutAsync() };
        Assert.Equal(3, healthyFactory.Started);
        leases[1].Worker.Die(); // it supervises its own workers as usual: the overflow drops, nothing starts
        leases[0].Dispose();
        leases[2].Dispose();
        status = healthy.GetStatus().Consistent();
        Assert.Equal(PoolState.Ready, status.State);
        Assert.Equal(2, status.Idle);
        Assert.Equal(3, healthyFactory.StartAttempts);
        Assert.Equal(PoolState.Backoff, sick.GetStatus().State);
        leases[1].Dispose();
    }

    [Fact]
    public async Task DisposeAsync_StopsEveryPool()
    {
        var time = new FakeTimeProvider();
        var registry = new PoolRegistry();
        var (aFactory, bFactory) = (new FakeWorkerFactory(), new FakeWorkerFactory());
        var a = await registry.StartPoolAsync(Scenario.Options(time, size: 2), aFactory);
        var b = await registry.StartPoolAsync(Scenario.Options(time, size: 3), bFactory);
        var external = await Pool.StartAsync(Scenario.Options(time, size: 1), new FakeWorkerFactory());
        registry.Add(external);

        await registry.DisposeAsync();

        Assert.Empty(registry.Names);
        Assert.Equal(0, aFactory.Running);
        Assert.Equal(0, bFactory.Running);
        Assert.All(new IPool[] { a, b, external }, p => Assert.Equal(PoolState.Stopped, p.GetStatus().State));
        await Assert.ThrowsAsync<ObjectDisposedException>(() => registry.StartPoolAsync(Scenario.Options(time, size: 1), new FakeWorkerFactory()));
    }

    [Fact]
    public async Task DisposeAsync_OnePoolFailsToStop_TheOthersAreStillStopped()
    {
        var time = new FakeTimeProvider();
        var registry = new PoolRegistry();
        registry.Add(new UnstoppablePool());
        var factory = new FakeWorkerFactory();
        await using var pool = await registry.StartPoolAsync(Scenario.Options(time, size: 2), factory);

        await Assert.ThrowsAnyAsync<InvalidOperationException>(() => registry.DisposeAsync().AsTask());

        Assert.Equal(PoolState.Stopped, pool.GetStatus().State);
        Assert.Equal(0, factory.Running);
    }

    /// <summary>A pool whose stop fails at once, as a faulty <see cref="IPool"/> implementation might.</summary>
    private sealed class UnstoppablePool : IPool
    {
        public string Name => "unstoppable";

        public Type WorkerType => typeof(object);

        public PoolStatus GetStatus() => throw new NotSupportedException();

        public void Resize(int size, int maxOverflow) => throw new NotSupportedException();

        public void RecycleAll() => throw new NotSupportedException();

        public void Resize(int size, int maxOverflow, string? source) => throw new NotSupportedException();

        public void RecycleAll(string? source) => throw new NotSupportedException();

        public Task<WorkerKillResult> KillWorkerAsync(int workerId, string? source = null, CancellationToken cancellationToken = default)
            => throw new NotSupportedException();

        public PoolEventSubscription SubscribeToEvents(int capacity = PoolEventSubscription.DefaultCapacity) => throw new NotSupportedException();

        public Task StopAsync(CancellationToken cancellationToken = default) => throw new InvalidOperationException("cannot stop");

        public ValueTask DisposeAsync() => default;
    }
}
