using Lifeguard.Testing;
using Microsoft.Extensions.Time.Testing;

namespace Lifeguard.Tests;

public sealed class SmokeTests
{
    [Fact]
    public async Task CheckoutCheckinWaitTimeoutDeathStop_Work()
    {
        var time = new FakeTimeProvider();
        var factory = new FakeWorkerFactory();
        var pool = await Pool.StartAsync(new PoolOptions { Name = "smoke", Size = 2, MaxOverflow = 1, TimeProvider = time }, factory);
        Assert.Equal(2, factory.Started);
        var a = await pool.CheckoutAsync();
        var b = await pool.CheckoutAsync();
        var c = await pool.CheckoutAsync(); // overflow
        Assert.Equal(3, factory.Started);
        Assert.Equal(PoolState.Full, pool.GetStatus().State);
        var waiting = pool.CheckoutAsync().AsTask();
        Assert.False(waiting.IsCompleted);
        Assert.Equal(1, pool.GetStatus().Waiters);
        a.Dispose();
        var d = await waiting;
        Assert.Equal(a.WorkerId, d.WorkerId);
        var timingOut = pool.CheckoutAsync().AsTask();
        time.Advance(TimeSpan.FromSeconds(5));
        var ex = await Assert.ThrowsAsync<PoolTimeoutException>(() => timingOut);
        Assert.Contains("smoke", ex.Message);
        c.Dispose(); // overflow: dismissed
        await FakeWorkerFactory.WaitUntilAsync(() => factory.Stops == 1, "the overflow worker stops");
        var s = pool.GetStatus();
        Assert.Equal(0, s.Overflow);
        Assert.Equal(2, s.Busy);
        b.Worker.Die();
        await FakeWorkerFactory.WaitUntilAsync(() => pool.GetStatus().Idle == 1, "the dead worker is replaced");
        b.Dispose(); // no-op
        d.Dispose();
        d.Dispose();
        Assert.Equal(2, pool.GetStatus().Idle);
        await pool.DisposeAsync();
        Assert.Equal(0, factory.Running);
        await Assert.ThrowsAsync<PoolStoppedException>(async () => await pool.CheckoutAsync());
    }
}
