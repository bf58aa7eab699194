using Lifeguard.Testing;
using Microsoft.Extensions.Time.Testing;

namespace Lifeguard.Tests;

public sealed class CheckoutTests
{
    [Fact]
    public async Task CheckoutAsync_IdleWorker_CompletesAtOnce()
    {
        var time = new FakeTimeProvider();
        var factory = new FakeWorkerFactory();
        await using var pool = await Pool.StartAsync(Scenario.Options(time, size: 2), factory);

        var checkout = pool.CheckoutAsync();

        Assert.True(checkout.IsCompletedSuccessfully);
        using var lease = await checkout;
        Assert.True(lease.IsActive);
        Assert.Contains(lease.Worker, factory.All);
        var status = pool.GetStatus().Consistent();
        Assert.Equal(1, status.Busy);
        Assert.Equal(1, status.Idle);
        Assert.Equal(2, factory.StartAttempts);
    }

    [Fact]
    public async Task CheckoutAsync_DefaultStrategy_HandsOutTheLastReturnedWorker()
    {
        var time = new FakeTimeProvider();
        var options = Scenario.Options(time, size: 3);
        Assert.Equal(PoolStrategy.Lifo, options.Strategy);
        await using var pool = await Pool.StartAsync(options, new FakeWorkerFactory());
        var (a, b, c) = (await pool.CheckoutAsync(), await pool.CheckoutAsync(), await pool.CheckoutAsync());

        b.Dispose();
        c.Dispose();
        a.Dispose();

        var order = new List<int>();
        var leases = new List<Lease<FakeWorker>>();
        for (int i = 0; i < 3; i++)
        {
            leases.Add(await pool.CheckoutAsync());
            order.Add(leases[^1].WorkerId);
        }

        Assert.Equal([a.WorkerId, c.WorkerId, b.WorkerId], order);
        leases.ForEach(l => l.Dispose());

        // A worker returned and checked out again at once is the same one: a hot set stays hot.
        for (int i = 0; i < 5; i++)
        {
            using var lease = await pool.CheckoutAsync();
            Assert.Equal(leases[^1].WorkerId, lease.WorkerId);
        }
    }

    [Fact]
    public async Task CheckoutAsync_FifoStrategy_HandsOutTheWorkerIdleLongest()
    {
        var time = new FakeTimeProvider();
        var options = Scenario.Options(time, size: 3);
        options.Strategy = PoolStrategy.Fifo;
        await using var pool = await Pool.StartAsync(options, new FakeWorkerFactory());
        var (a, b, c) = (await pool.CheckoutAsync(), await pool.CheckoutAsync(), await pool.CheckoutAsync());

        b.Dispose();
        c.Dispose();
        a.Dispose();

        var order = new List<int>();
        for (int i = 0; i < 6; i++)
        {
            using var lease = await pool.CheckoutAsync();
            order.Add(lease.WorkerId);
        }

        // Each returned worker goes to the back: use is spread evenly.
        Assert.Equal([b.WorkerId, c.WorkerId, a.WorkerId, b.WorkerId, c.WorkerId, a.WorkerId], order);
    }

    [Fact]
    public async Task CheckoutAsync_WorkerFailsValidation_DroppedAndReplacedNeverHandedOut()
    {
        var time = new FakeTimeProvider();
        var factory = new ValidatingFakeWorkerFactory();
        await using var pool = await Pool.StartAsync(Scenario.Options(time, size: 2), factory);
        var first = await pool.CheckoutAsync();
        var second = await pool.CheckoutAsync();
        var healthy = first.Worker;
        var sick = second.Worker;
        first.Dispose();
        second.Dispose();
        sick.Healthy = false; // LIFO: the sick worker would be next
        factory.CloseGate(); // its replacement waits, so the healthy worker is the only candidate left

        using var lease = await pool.CheckoutAsync();

        Assert.Same(healthy, lease.Worker);
        factory.OpenGate();
        await Scenario.Until(() => sick.IsStopped && pool.GetStatus().Idle == 1, "the sick worker is stopped and replaced");
        var status = pool.GetStatus().Consistent();
        Assert.Equal(1, status.TotalDeaths);
        Assert.Equal(1, status.TotalRestarts);
        Assert.DoesNotContain(status.Workers, w => w.Id == sick.Id);
        Assert.Equal(3, factory.Started);

        using var replacement = await pool.CheckoutAsync();
        Assert.NotSame(sick, replacement.Worker);
        Assert.NotSame(healthy, replacement.Worker);
    }

    [Fact]
    public async Task CheckoutAsync_OnlyWorkerFailsValidation_CallerGetsTheReplacement()
    {
        var time = new FakeTimeProvider();
        var factory = new ValidatingFakeWorkerFactory();
        await using var pool = await Pool.StartAsync(Scenario.Options(time, size: 1), factory);
        var sick = factory.All.Single();
        sick.Healthy = false;

        using var lease = await pool.CheckoutAsync();

        Assert.NotSame(sick, lease.Worker);
        Assert.True(lease.Worker.Healthy);
        await Scenario.Until(() => sick.IsStopped, "the sick worker is stopped");
        Assert.Equal(2, factory.Started);
        Assert.Equal(1, pool.GetStatus().Consistent().Busy);
    }

    [Fact]
    public async Task CheckoutAsync_IdleWorkerDied_NeverHandedOut()
    {
        var time = new FakeTimeProvider();
        var factory = new FakeWorkerFactory();
        await using var pool = await Pool.StartAsync(Scenario.Options(time, size: 2), factory);
        var a = await pool.CheckoutAsync();
        var b = await pool.CheckoutAsync();
        var dead = b.Worker;
        a.Dispose();
        b.Dispose(); // LIFO: b would be next

        factory.CloseGate(); // the replacement waits, so the next checkout can only get a
        dead.Die();

        var leases = new List<Lease<FakeWorker>> { await pool.CheckoutAsync() };
        Assert.Equal(a.WorkerId, leases[0].WorkerId);
        factory.OpenGate();
        leases.Add(await pool.CheckoutAsync()); // the replacement

        Assert.DoesNotContain(leases, l => ReferenceEquals(l.Worker, dead));
        Assert.All(leases, l => Assert.False(l.Worker.Context.IsTerminated));
        Assert.Same(factory.All.Last(), leases[1].Worker);
        await Scenario.Until(() => dead.IsStopped, "the dead worker is stopped");
        leases.ForEach(l => l.Dispose());
        Assert.Equal(2, pool.GetStatus().Consistent().Idle);
    }
}
