using Lifeguard.Testing;
using Microsoft.Extensions.Time.Testing;

namespace Lifeguard.Tests;

public sealed class ResizeTests
{
    [Fact]
    public async Task Resize_Grow_StartsWorkersInTheBackground()
    {
        var time = new FakeTimeProvider();
        var factory = new FakeWorkerFactory();
        await using var pool = await Pool.StartAsync(Scenario.Options(time, size: 2), factory);
        factory.CloseGate();

        pool.Resize(4, 1);

        var status = pool.GetStatus().Consistent();
        Assert.Equal(4, status.Size);
        Assert.Equal(1, status.MaxOverflow);
        Assert.Equal(2, status.Idle);
        Assert.Equal(2, status.Starting);
        factory.OpenGate();
        await Scenario.Until(() => pool.GetStatus().Idle == 4, "the pool grows to four workers");
        status = pool.GetStatus().Consistent();
        Assert.Equal(0, status.Overflow);
        Assert.Equal(4, factory.Started);

        // The new cap holds: 4 + 1.
        var leases = new List<Lease<FakeWorker>>();
        for (int i = 0; i < 5; i++)
        {
            leases.Add(await pool.CheckoutAsync());
        }

        Assert.Null(await pool.TryCheckoutAsync());
        leases.ForEach(l => l.Dispose());
    }

    [Fact]
    public async Task Resize_ShrinkWithIdleSurplus_DismissesItAtOnce()
    {
        var time = new FakeTimeProvider();
        var factory = new FakeWorkerFactory();
        await using var pool = await Pool.StartAsync(Scenario.Options(time, size: 4), factory);

        pool.Resize(2, 0);

        var status = pool.GetStatus().Consistent();
        Assert.Equal(2, status.Idle);
        Assert.Equal(2, status.Live);
        Assert.Equal(0, status.Overflow);
        await Scenario.Until(() => factory.Stops == 2, "two surplus workers are stopped");
        Assert.Equal(2, factory.Running);
        Assert.Equal(4, factory.StartAttempts);
    }

    [Fact]
    public async Task Resize_ShrinkWithCooldown_IdleSurplusWithinTheCapGoesAfterOverflowIdleTimeout()
    {
        var time = new FakeTimeProvider();
        var factory = new FakeWorkerFactory();
        var options = Scenario.Options(time, size: 3);
        options.OverflowIdleTimeout = TimeSpan.FromSeconds(10);
        await using var pool = await Pool.StartAsync(options, factory);

        pool.Resize(1, 1); // cap 2: one worker is above the cap and goes now, one is surplus within it

        var status = pool.GetStatus().Consistent();
        Assert.Equal(2, status.Idle);
        Assert.Equal(1, status.Overflow);
        time.Advance(TimeSpan.FromSeconds(10));
        status = pool.GetStatus().Consistent();
        Assert.Equal(1, status.Idle);
        Assert.Equal(0, status.Overflow);
        await Scenario.Until(() => factory.Stops == 2, "both surplus workers are stopped");
    }

    [Fact]
    public async Task Resize_ShrinkWithBusySurplus_DismissesItAtCheckin()
    {
        var time = new FakeTimeProvider();
        var factory = new FakeWorkerFactory();
        await using var pool = await Pool.StartAsync(Scenario.Options(time, size: 3), factory);
        var leases = new[] { await pool.CheckoutAsync(), await pool.CheckoutAsync(), await pool.CheckoutAsync() };

        pool.Resize(1, 0);

        Assert.Equal(0, factory.Stops);
        var status = pool.GetStatus().Consistent();
        Assert.Equal(3, status.Busy);
        Assert.Equal(2, status.Overflow);
        Assert.Equal(PoolState.Full, status.State);
        leases[0].Dispose();
        leases[1].Dispose();
        await Scenario.Until(() => factory.Stops == 2, "the two surplus workers are dismissed at checkin");
        Assert.Equal(0, pool.GetStatus().Consistent().Idle);
        leases[2].Dispose();
        status = pool.GetStatus().Consistent();
        Assert.Equal(1, status.Idle);
        Assert.Equal(0, status.Overflow);
        Assert.Equal(3, factory.StartAttempts);
    }

    [Fact]
    public async Task Resize_ShrinkBelowBusyWorkersWhileCallersWait_KeepsTheNewCap()
    {
        var time = new FakeTimeProvider();
        var factory = new FakeWorkerFactory();
        await using var pool = await Pool.StartAsync(Scenario.Options(time, size: 1, maxOverflow: 1), factory);
        var a = await pool.CheckoutAsync();
        var b = await pool.CheckoutAsync();
        var waiting = pool.CheckoutAsync().AsTask();

        pool.Resize(1, 0);
        a.Dispose(); // above the new cap of 1: dismissed even though a caller waits

        await Scenario.Until(() => factory.Stops == 1, "the surplus worker is dismissed");
        Assert.False(waiting.IsCompleted);
        b.Dispose();
        using var lease = await waiting;
        Assert.Equal(b.WorkerId, lease.WorkerId);
        Assert.Equal(2, factory.StartAttempts);
    }

    [Fact]
    public async Task Resize_GrowMaxOverflowWhileCallersWait_StartsWorkersForThem()
    {
        var time = new FakeTimeProvider();
        var factory = new FakeWorkerFactory();
        await using var pool = await Pool.StartAsync(Scenario.Options(time, size: 1), factory);
        using var held = await pool.CheckoutAsync();
        var first = pool.CheckoutAsync().AsTask();
        var second = pool.CheckoutAsync().AsTask();

        pool.Resize(1, 2);

        using var a = await first;
        using var b = await second;
        Assert.Equal(3, factory.Started);
        Assert.Equal(2, pool.GetStatus().Consistent().Overflow);
    }

    [Theory]
    [InlineData(-1, 0)]
    [InlineData(0, -1)]
    [InlineData(0, 0)]
    [InlineData(int.MaxValue, 1)]
    public async Task Resize_InvalidLimits_ThrowsArgumentOutOfRangeAndChangesNothing(int size, int maxOverflow)
    {
        var time = new FakeTimeProvider();
        var factory = new FakeWorkerFactory();
        await using var pool = await Pool.StartAsync(Scenario.Options(time, size: 2, maxOverflow: 1), factory);

        var ex = Assert.Throws<ArgumentOutOfRangeException>(() => pool.Resize(size, maxOverflow));

        Assert.Contains($"({size})", ex.Message, StringComparison.Ordinal);
        Assert.Contains($"({maxOverflow})", ex.Message, StringComparison.Ordinal);
        var status = pool.GetStatus().Consistent();
        Assert.Equal(2, status.Size);
        Assert.Equal(1, status.MaxOverflow);
        Assert.Equal(2, status.Idle);
        Assert.Equal(2, factory.StartAttempts);
    }
}
