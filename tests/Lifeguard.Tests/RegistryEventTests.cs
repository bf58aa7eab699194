using Lifeguard.Testing;
using Microsoft.Extensions.Time.Testing;

namespace Lifeguard.Tests;

/// <summary>A registry's view of every pool: enumeration, and one event subscription for all pools, later ones included.</summary>
public sealed class RegistryEventTests
{
    [Fact]
    public async Task SubscribeToEvents_PoolsNowAndLater_EventsOfAllUntilEachIsStopped()
    {
        var time = new FakeTimeProvider();
        var registry = new PoolRegistry();
        var first = await registry.StartPoolAsync(Scenario.Options(time, size: 1), new FakeWorkerFactory());
        var events = registry.SubscribeToEvents();
        var later = await registry.StartPoolAsync(Scenario.Options(time, size: 1), new FakeWorkerFactory());
        var added = await Pool.StartAsync(Scenario.Options(time, size: 1), new FakeWorkerFactory());
        registry.Add(added);

        first.Resize(1, 1, "a");
        later.Resize(1, 2, "b");
        added.Resize(1, 3, "c");
        var seen = await events.ReadUntilAsync((_, all) => all.Count == 3);

        Assert.Equal(
            [(first.Name, "a"), (later.Name, "b"), (added.Name, "c")],
            seen.Select(e => (e.PoolName, e.Source!)));
        Assert.All(seen, e => Assert.Equal(1, e.Sequence)); // numbered per pool

        Assert.True(await registry.StopPoolAsync(later.Name));
        var stop = await events.ReadUntilAsync(e => e.Kind == PoolEventKind.PoolStopped);
        Assert.All(stop, e => Assert.Equal(later.Name, e.PoolName));
        Assert.False(events.Reader.Completion.IsCompleted, "a registry's subscription outlives any one pool");

        first.Resize(1, 0);
        Assert.Equal(first.Name, (await events.NextAsync(PoolEventKind.Resized)).PoolName);

        await registry.DisposeAsync();
        var rest = await events.ReadAllAsync(); // completes with the registry
        Assert.Contains(rest, e => e.Kind == PoolEventKind.PoolStopped && e.PoolName == first.Name);
        Assert.Contains(rest, e => e.Kind == PoolEventKind.PoolStopped && e.PoolName == added.Name);
    }

    [Fact]
    public async Task SubscribeToEvents_Disposed_NoLongerAttachedToAnyPool()
    {
        var time = new FakeTimeProvider();
        await using var registry = new PoolRegistry();
        var pool = await registry.StartPoolAsync(Scenario.Options(time, size: 1), new FakeWorkerFactory());
        var events = registry.SubscribeToEvents();
        var hub = ((IPoolEventSource)pool).EventHub;
        Assert.True(hub.IsActive);

        events.Dispose();

        Assert.False(hub.IsActive);
        Assert.True(events.Reader.Completion.IsCompleted);
        var afterwards = await registry.StartPoolAsync(Scenario.Options(time, size: 1), new FakeWorkerFactory());
        Assert.False(((IPoolEventSource)afterwards).EventHub.IsActive, "a disposed subscription is not attached to later pools");
    }

    [Fact]
    public async Task SubscribeToEvents_PoolOfAnotherImplementation_ForwardedThroughItsOwnSubscription()
    {
        var time = new FakeTimeProvider();
        await using var registry = new PoolRegistry();
        var inner = await Pool.StartAsync(Scenario.Options(time, size: 1), new FakeWorkerFactory());
        registry.Add(new WrappingPool(inner));
        using var events = registry.SubscribeToEvents();

        inner.Resize(1, 1, "wrapped");

        var resized = await events.NextAsync(PoolEventKind.Resized);
        Assert.Equal("wrapped", resized.Source);
        Assert.Equal(inner.Name, resized.PoolName);
    }

    [Fact]
    public async Task SubscribeToEvents_DisposedRegistry_CompleteAtOnce()
    {
        var registry = new PoolRegistry();
        await registry.DisposeAsync();

        using var events = registry.SubscribeToEvents();

        Assert.True(events.Reader.Completion.IsCompleted);
    }

    [Fact]
    public async Task Pools_EnumeratesTheRunningPools()
    {
        var time = new FakeTimeProvider();
        await using var registry = new PoolRegistry();
        var a = await registry.StartPoolAsync(Scenario.Options(time, size: 1), new FakeWorkerFactory());
        var b = await registry.StartPoolAsync(Scenario.Options(time, size: 1), new FakeWorkerFactory());

        Assert.Equal(new IPool[] { a, b }.OrderBy(p => p.Name, StringComparer.Ordinal), registry.Pools.OrderBy(p => p.Name, StringComparer.Ordinal));
        await registry.StopPoolAsync(a.Name);
        Assert.Same(b, Assert.Single(registry.Pools));
    }

    /// <summary>An <see cref="IPool"/> of another implementation, delegating to a Lifeguard pool.</summary>
    private sealed class WrappingPool(IPool inner) : IPool
    {
        public string Name => inner.Name;

        public Type WorkerType => inner.WorkerType;

        public PoolStatus GetStatus() => inner.GetStatus();

        public void Resize(int size, int maxOverflow) => inner.Resize(size, maxOverflow);

        public void Resize(int size, int maxOverflow, string? source) => inner.Resize(size, maxOverflow, source);

        public void RecycleAll() => inner.RecycleAll();

        public void RecycleAll(string? source) => inner.RecycleAll(source);

        public Task<WorkerKillResult> KillWorkerAsync(int workerId, string? source = null, CancellationToken cancellationToken = default)
            => inner.KillWorkerAsync(workerId, source, cancellationToken);

        public PoolEventSubscription SubscribeToEvents(int capacity = PoolEventSubscription.DefaultCapacity) => inner.SubscribeToEvents(capacity);

        public Task StopAsync(CancellationToken cancellationToken = default) => inner.StopAsync(cancellationToken);

        public ValueTask DisposeAsync() => inner.DisposeAsync();
    }
}
