using Microsoft.Extensions.Time.Testing;

namespace Lifeguard.Cli.Tests;

/// <summary><see cref="RunSlots"/>: a fixed or a following limit on the inputs in flight, first come first served.</summary>
public sealed class RunSlotsTests
{
    [Fact]
    public async Task Fixed_GrantsUpToTheLimit_ThenInArrivalOrderAsSlotsAreReleased()
    {
        using var slots = RunSlots.Fixed(2);
        await slots.WaitAsync(CancellationToken.None);
        await slots.WaitAsync(CancellationToken.None);
        var third = slots.WaitAsync(CancellationToken.None);
        var fourth = slots.WaitAsync(CancellationToken.None);
        Assert.False(third.IsCompleted);
        Assert.Equal(2, slots.InUse);

        slots.Release();
        await third;
        Assert.False(fourth.IsCompleted);
        slots.Release();
        await fourth;
        Assert.Equal(2, slots.InUse);
        Assert.Equal(2, slots.Limit);
    }

    [Fact]
    public async Task CancelledWaiter_HoldsNoSlot_AndTheNextOneGetsIt()
    {
        using var slots = RunSlots.Fixed(1);
        await slots.WaitAsync(CancellationToken.None);
        using var cancel = new CancellationTokenSource();
        var cancelled = slots.WaitAsync(cancel.Token);
        var next = slots.WaitAsync(CancellationToken.None);

        cancel.Cancel();
        await Assert.ThrowsAnyAsync<OperationCanceledException>(() => cancelled);
        slots.Release();
        await next;
        Assert.Equal(1, slots.InUse);
        await Assert.ThrowsAnyAsync<OperationCanceledException>(() => slots.WaitAsync(cancel.Token));
        Assert.Equal(1, slots.InUse);
    }

    [Fact]
    public async Task Following_ReadsTheCapacityEveryHalfSecond_MoreCapacityGrantsWaiters()
    {
        var time = new FakeTimeProvider();
        int capacity = 1;
        using var slots = RunSlots.Following(() => capacity, time);
        Assert.Equal(1, slots.Limit);
        await slots.WaitAsync(CancellationToken.None);
        var second = slots.WaitAsync(CancellationToken.None);
        var third = slots.WaitAsync(CancellationToken.None);

        capacity = 3; // two hosts more
        time.Advance(TimeSpan.FromMilliseconds(499));
        Assert.False(second.IsCompleted);
        time.Advance(TimeSpan.FromMilliseconds(1));
        await Task.WhenAll(second, third);
        Assert.Equal(3, slots.Limit);
        Assert.Equal(3, slots.InUse);
    }

    [Fact]
    public async Task Following_LessCapacity_TakesEffectAsSlotsAreReleased_NoneWhileNoHostServes()
    {
        var time = new FakeTimeProvider();
        int capacity = 2;
        using var slots = RunSlots.Following(() => capacity, time);
        await slots.WaitAsync(CancellationToken.None);
        await slots.WaitAsync(CancellationToken.None);
        var waiting = slots.WaitAsync(CancellationToken.None);

        capacity = 0; // every host gone
        time.Advance(RunSlots.RefreshInterval);
        slots.Release();
        slots.Release();
        Assert.Equal(0, slots.Limit);
        Assert.Equal(0, slots.InUse);
        Assert.False(waiting.IsCompleted);

        capacity = 1; // a host back
        time.Advance(RunSlots.RefreshInterval);
        await waiting;
        Assert.Equal(1, slots.InUse);
    }

    [Fact]
    public void Release_WithoutASlot_Throws_AndAFixedLimitIsAtLeastOne()
    {
        using var slots = RunSlots.Fixed(1);
        Assert.Throws<InvalidOperationException>(slots.Release);
        Assert.Throws<ArgumentOutOfRangeException>(() => RunSlots.Fixed(0));
    }

    [Fact]
    public void Disposed_FollowingStopsReadingTheCapacity()
    {
        var time = new FakeTimeProvider();
        int reads = 0;
        var slots = RunSlots.Following(() => ++reads, time);
        time.Advance(RunSlots.RefreshInterval);
        Assert.Equal(2, reads);
        slots.Dispose();
        time.Advance(RunSlots.RefreshInterval * 4);
        Assert.Equal(2, reads);
    }
}
