using Lifeguard.Testing;
using Microsoft.Extensions.Time.Testing;

namespace Lifeguard.Tests;

public sealed class OverflowTests
{
    [Fact]
    public async Task CheckoutAsync_NoneIdleAndCapNotReached_StartsAnOverflowWorkerForThisCaller()
    {
        var time = new FakeTimeProvider();
        var factory = new FakeWorkerFactory();
        await using var pool = await Pool.StartAsync(Scenario.Options(time, size: 1, maxOverflow: 2), factory);
        using var a = await pool.CheckoutAsync();
        factory.CloseGate();

        var b = pool.CheckoutAsync().AsTask();

        await Scenario.Until(() => factory.StartAttempts == 2, "the overflow start is in flight");
        Assert.False(b.IsCompleted);
        var status = pool.GetStatus().Consistent();
        Assert.Equal(1, status.Starting);
        Assert.Equal(1, status.Overflow);
        Assert.Equal(1, status.Waiters); // a caller awaiting the start its checkout made is a waiter
        factory.OpenGate();
        using var lease = await b;
        Assert.NotEqual(a.WorkerId, lease.WorkerId);
        Assert.Same(factory.All.Last(), lease.Worker);
        status = pool.GetStatus().Consistent();
        Assert.Equal(2, status.Busy);
        Assert.Equal(1, status.Overflow);
        Assert.Equal(0, status.Starting);
        Assert.Equal(0, status.Waiters);
        Assert.Equal(2, status.TotalStarts);
        Assert.Equal(0, status.TotalRestarts); // an overflow start replaces nothing
    }

    [Fact]
    public async Task CheckoutAsync_OverflowStartFails_CallerGetsWorkerStartExceptionAndTheSlotIsReleased()
    {
        var time = new FakeTimeProvider();
        var boom = new InvalidOperationException("boom");
        var factory = new FakeWorkerFactory { FailStart = n => n == 2 ? boom : null };
        var options = Scenario.Options(time, size: 1, maxOverflow: 1);
        await using var pool = await Pool.StartAsync(options, factory);
        using var a = await pool.CheckoutAsync();

        var ex = await Assert.ThrowsAsync<WorkerStartException>(async () => await pool.CheckoutAsync());

        Assert.Same(boom, ex.InnerException);
        Assert.Equal(options.Name, ex.PoolName);
        var status = pool.GetStatus().Consistent();
        Assert.Equal(PoolState.Overflow, status.State);
        Assert.Equal(0, status.Starting);
        Assert.Equal(1, status.Live);
        Assert.Equal(1, status.TotalStartFailures);
        Assert.Same(ex, status.LastFailure);

        // The one overflow slot is free again: the next checkout starts a worker instead of waiting.
        using var b = await pool.CheckoutAsync();
        Assert.Equal(3, factory.StartAttempts);
        Assert.Equal(2, pool.GetStatus().Consistent().Busy);
    }

    [Fact]
    public async Task CheckoutAsync_OverflowStartInFlight_CountsAgainstTheCap()
    {
        var time = new FakeTimeProvider();
        var factory = new FakeWorkerFactory();
        await using var pool = await Pool.StartAsync(Scenario.Options(time, size: 1, maxOverflow: 1), factory);
        var a = await pool.CheckoutAsync();
        factory.CloseGate();
        var b = pool.CheckoutAsync().AsTask();
        await Scenario.Until(() => factory.StartAttempts == 2, "the overflow start is in flight");

        var c = pool.CheckoutAsync().AsTask();

        var status = pool.GetStatus().Consistent();
        Assert.Equal(PoolState.Full, status.State);
        Assert.Equal(2, status.Waiters); // b awaits its start, c the next worker
        Assert.Equal(2, factory.StartAttempts);
        factory.OpenGate();
        using var bLease = await b;
        Assert.False(c.IsCompleted);
        a.Dispose();
        using var cLease = await c;
        Assert.Equal(a.WorkerId, cLease.WorkerId);
        Assert.Equal(2, factory.Started);
    }

    [Fact]
    public async Task TryCheckoutAsync_IdleWorker_ReturnsItAtOnce()
    {
        var time = new FakeTimeProvider();
        await using var pool = await Pool.StartAsync(Scenario.Options(time, size: 1), new FakeWorkerFactory());

        var checkout = pool.TryCheckoutAsync();

        Assert.True(checkout.IsCompletedSuccessfully);
        var lease = await checkout;
        Assert.NotNull(lease);
        Assert.True(lease.Value.IsActive);
        lease.Value.Dispose();
        Assert.Equal(1, pool.GetStatus().Consistent().Idle);
    }

    [Fact]
    public async Task TryCheckoutAsync_CapAllows_StartsAndAwaitsAnOverflowWorker()
    {
        var time = new FakeTimeProvider();
        var factory = new FakeWorkerFactory();
        await using var pool = await Pool.StartAsync(Scenario.Options(time, size: 1, maxOverflow: 1), factory);
        using var a = await pool.CheckoutAsync();
        factory.CloseGate();

        var checkout = pool.TryCheckoutAsync().AsTask();

        await Scenario.Until(() => factory.StartAttempts == 2, "the overflow start is in flight");
        Assert.False(checkout.IsCompleted);
        factory.OpenGate();
        var lease = await checkout;
        Assert.NotNull(lease);
        Assert.Same(factory.All.Last(), lease.Value.Worker);
        Assert.Equal(1, pool.GetStatus().Consistent().Overflow);
        lease.Value.Dispose();
    }

    [Fact]
    public async Task TryCheckoutAsync_Full_ReturnsNullWithoutQueueing()
    {
        var time = new FakeTimeProvider();
        var factory = new FakeWorkerFactory();
        await using var pool = await Pool.StartAsync(Scenario.Options(time, size: 1, maxOverflow: 1), factory);
        using var a = await pool.CheckoutAsync();
        using var b = await pool.CheckoutAsync();

        var checkout = pool.TryCheckoutAsync();

        Assert.True(checkout.IsCompleted);
        Assert.Null(await checkout);
        var status = pool.GetStatus().Consistent();
        Assert.Equal(0, status.Waiters);
        Assert.Equal(0, status.TotalTimeouts);
        Assert.Equal(2, factory.StartAttempts);
    }

    [Fact]
    public async Task CheckoutAsync_FactoryBlocksWhileStartingAnOverflowWorker_ThePoolStaysResponsive()
    {
        var time = new FakeTimeProvider();
        var factory = new BlockingFactory(blockFromAttempt: 2);
        await using var pool = await Pool.StartAsync(Scenario.Options(time, size: 1, maxOverflow: 1), factory);
        var held = await pool.CheckoutAsync();

        // A factory may block before its first await (Process.Start does); that must not hold up the rest of the pool.
        var overflow = Task.Run(async () => await pool.CheckoutAsync());
        try
        {
            await Scenario.Until(() => factory.Entered.IsSet, "the overflow start is blocked in the factory");
            var others = Task.Run(() =>
            {
                var status = pool.GetStatus();
                held.Dispose();
                return status;
            });

            var seen = await others.WaitAsync(TimeSpan.FromSeconds(10));

            Assert.Equal(1, seen.Starting);
            Assert.Equal(1, seen.Busy);
        }
        finally
        {
            factory.Release.Set();
        }

        // The worker checked in while the start was blocked served the caller (starts belong to the pool); the
        // started one arrived to no waiter and was dismissed as surplus.
        using var lease = await overflow;
        Assert.Equal(1, lease.WorkerId);
        await Scenario.Until(() => pool.GetStatus() is { Starting: 0, Stopping: 0, Live: 1 }, "the surplus start is dismissed");
    }

    /// <summary>Starts workers synchronously, blocking the calling thread from a given attempt on until released.</summary>
    private sealed class BlockingFactory(int blockFromAttempt) : IWorkerFactory<FakeWorker>
    {
        private readonly FakeWorkerFactory _stopper = new();
        private int _attempts;

        public ManualResetEventSlim Entered { get; } = new();

        public ManualResetEventSlim Release { get; } = new();

        public ValueTask<FakeWorker> StartAsync(WorkerContext context, CancellationToken cancellationToken)
        {
            if (Interlocked.Increment(ref _attempts) >= blockFromAttempt)
            {
                Entered.Set();
                Release.Wait(cancellationToken);
            }

            return ValueTask.FromResult(new FakeWorker(context));
        }

        public ValueTask StopAsync(FakeWorker worker) => _stopper.StopAsync(worker);
    }
}
