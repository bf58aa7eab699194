using System.Diagnostics;
using Lifeguard.Testing;
using Microsoft.Extensions.Time.Testing;

namespace Lifeguard.Tests;

/// <summary>
/// The checkout span on the <c>Lifeguard</c> source. The listeners here sample only their own test's trace; the
/// tests run one at a time (one class), so the one without a listener sees none of theirs either.
/// </summary>
public sealed class TracingTests
{
    [Fact]
    public async Task Checkout_Listened_SpanCarriesThePoolAndTheWaitOnThePoolsClock()
    {
        using var recorder = new ActivityRecorder();
        var time = new FakeTimeProvider();
        var options = Scenario.Options(time, size: 1);
        options.CheckoutTimeout = Timeout.InfiniteTimeSpan;
        await using var pool = await Pool.StartAsync(options, new FakeWorkerFactory());

        var held = await pool.CheckoutAsync();
        var waiting = pool.CheckoutAsync().AsTask();
        Assert.False(waiting.IsCompleted);
        time.Advance(TimeSpan.FromSeconds(2));
        held.Dispose();
        using var lease = await waiting;

        var spans = recorder.Named("lifeguard.checkout");
        Assert.Equal(2, spans.Count);
        Assert.All(spans, s =>
        {
            Assert.Equal(options.Name, s.GetTagItem("lifeguard.pool.name"));
            Assert.Equal(recorder.Root.SpanId, s.ParentSpanId);
            Assert.Equal(ActivityStatusCode.Unset, s.Status);
        });
        Assert.Equal(0.0, spans[0].GetTagItem("lifeguard.checkout.wait"));
        Assert.Equal(2.0, spans[1].GetTagItem("lifeguard.checkout.wait"));

        // The span is current only inside the checkout: the caller's own activity is current again.
        Assert.Same(recorder.Root, Activity.Current);
    }

    [Fact]
    public async Task Checkout_TimesOut_SpanHasErrorTypeAndErrorStatus()
    {
        using var recorder = new ActivityRecorder();
        var time = new FakeTimeProvider();
        await using var pool = await Pool.StartAsync(Scenario.Options(time, size: 1), new FakeWorkerFactory());
        using var held = await pool.CheckoutAsync();

        await Assert.ThrowsAsync<PoolTimeoutException>(async () => await pool.CheckoutAsync(TimeSpan.Zero));

        var spans = recorder.Named("lifeguard.checkout");
        Assert.Equal(2, spans.Count);
        Assert.Null(spans[0].GetTagItem("error.type"));
        var span = spans[1];
        Assert.Equal(typeof(PoolTimeoutException).FullName, span.GetTagItem("error.type"));
        Assert.Equal(ActivityStatusCode.Error, span.Status);
        Assert.Equal(0.0, span.GetTagItem("lifeguard.checkout.wait"));
    }

    [Fact]
    public async Task TryCheckout_PoolFull_SpanSaysFull()
    {
        using var recorder = new ActivityRecorder();
        await using var pool = await Pool.StartAsync(Scenario.Options(new FakeTimeProvider(), size: 1), new FakeWorkerFactory());
        using var held = await pool.CheckoutAsync();

        Assert.Null(await pool.TryCheckoutAsync());

        var spans = recorder.Named("lifeguard.checkout");
        Assert.Equal(2, spans.Count);
        Assert.Null(spans[0].GetTagItem("lifeguard.checkout.full"));
        Assert.Equal(true, spans[1].GetTagItem("lifeguard.checkout.full"));
    }

    [Fact]
    public async Task Checkout_NoListener_NoSpanAndNoAllocation()
    {
        await using var pool = await Pool.StartAsync(Scenario.Options(new FakeTimeProvider(), size: 1), new FakeWorkerFactory());
        using (var probe = new ActivitySource("Lifeguard"))
        {
            Assert.False(probe.HasListeners());
        }

        for (int i = 0; i < 10; i++)
        {
            (await pool.CheckoutAsync()).Dispose(); // warm up
        }

        Assert.Equal(0, AllocatedByCheckouts(pool, 100));
        Assert.Null(Activity.Current);
    }

    /// <summary>Bytes this thread allocates for <paramref name="count"/> checkouts of an idle worker, each checked in.</summary>
    private static long AllocatedByCheckouts(Pool<FakeWorker> pool, int count)
    {
        long before = GC.GetAllocatedBytesForCurrentThread();
        for (int i = 0; i < count; i++)
        {
            var pending = pool.CheckoutAsync();
            Assert.True(pending.IsCompletedSuccessfully);
            pending.GetAwaiter().GetResult().Dispose(); // completed synchronously: nothing to wait for
        }

        return GC.GetAllocatedBytesForCurrentThread() - before;
    }
}
