using Lifeguard.Testing;
using Microsoft.Extensions.Time.Testing;

namespace Lifeguard.Tests;

public sealed class StartTests
{
    [Fact]
    public async Task StartAsync_GateClosed_AllBaseStartsAreInFlightAtOnceBeforeReady()
    {
        var time = new FakeTimeProvider();
        var factory = new FakeWorkerFactory();
        factory.CloseGate();

        var starting = Pool.StartAsync(Scenario.Options(time, size: 4, maxOverflow: 2), factory);

        // Sequential starts would never have more than one attempt in flight while the gate is closed.
        await Scenario.Until(() => factory.StartAttempts == 4, "all four base starts are in flight");
        Assert.False(starting.IsCompleted);
        Assert.Equal(0, factory.Started);

        factory.OpenGate();
        await using var pool = await starting;
        Assert.Equal(4, factory.Started);
        var status = pool.GetStatus().Consistent();
        Assert.Equal(PoolState.Ready, status.State);
        Assert.Equal(4, status.Idle);
        Assert.Equal(0, status.Starting);
        Assert.Equal(0, status.Overflow);
        Assert.Equal(0, status.TotalRestarts);
    }

    [Fact]
    public async Task StartAsync_SizeAndMaxOverflow_CapIsTheirSum()
    {
        var time = new FakeTimeProvider();
        var factory = new FakeWorkerFactory();
        await using var pool = await Pool.StartAsync(Scenario.Options(time, size: 2, maxOverflow: 3), factory);
        Assert.Equal(2, factory.Started);

        var leases = new List<Lease<FakeWorker>>();
        for (int i = 0; i < 5; i++)
        {
            leases.Add(await pool.CheckoutAsync());
        }

        Assert.Equal(5, factory.Started);
        Assert.Equal(5, leases.Select(l => l.WorkerId).Distinct().Count());
        var status = pool.GetStatus().Consistent();
        Assert.Equal(PoolState.Full, status.State);
        Assert.Equal(5, status.Live);
        Assert.Equal(3, status.Overflow);

        Assert.Null(await pool.TryCheckoutAsync());
        await Assert.ThrowsAsync<PoolTimeoutException>(async () => await pool.CheckoutAsync(TimeSpan.Zero));
        Assert.Equal(5, factory.StartAttempts);

        leases.ForEach(l => l.Dispose());
    }

    [Fact]
    public async Task StartAsync_OneBaseStartFails_ThrowsThatErrorAndStopsTheStartedOnes()
    {
        var time = new FakeTimeProvider();
        var boom = new InvalidOperationException("boom");
        var factory = new FakeWorkerFactory { FailStart = n => n == 3 ? boom : null };
        var options = Scenario.Options(time, size: 4);

        var ex = await Assert.ThrowsAsync<WorkerStartException>(() => Pool.StartAsync(options, factory));

        Assert.Same(boom, ex.InnerException);
        Assert.Equal(options.Name, ex.PoolName);
        Assert.Contains(options.Name, ex.Message, StringComparison.Ordinal);
        Assert.Equal(4, factory.StartAttempts);
        Assert.Equal(3, factory.Started);
        Assert.Equal(0, factory.Running);
        Assert.All(factory.All, w => Assert.Equal(1, w.StopCount));
    }

    [Fact]
    public async Task StartAsync_Canceled_ThrowsOperationCanceledAndLeavesNothingRunning()
    {
        var time = new FakeTimeProvider();
        var factory = new FakeWorkerFactory();
        factory.CloseGate();
        using var cts = new CancellationTokenSource();

        var starting = Pool.StartAsync(Scenario.Options(time, size: 3), factory, cts.Token);
        await Scenario.Until(() => factory.StartAttempts == 3, "the base starts are in flight");
        cts.Cancel();

        var ex = await Assert.ThrowsAnyAsync<OperationCanceledException>(() => starting);
        Assert.Equal(cts.Token, ex.CancellationToken);
        Assert.Equal(0, factory.Running);
    }

    [Fact]
    public async Task StartAsync_SizeZero_StartsNothingAndServesFromOverflow()
    {
        var time = new FakeTimeProvider();
        var factory = new FakeWorkerFactory();
        await using var pool = await Pool.StartAsync(Scenario.Options(time, size: 0, maxOverflow: 1), factory);
        Assert.Equal(0, factory.StartAttempts);
        Assert.Equal(PoolState.Overflow, pool.GetStatus().State);

        var lease = await pool.CheckoutAsync();
        Assert.Equal(1, factory.Started);
        Assert.Equal(1, pool.GetStatus().Consistent().Overflow);

        lease.Dispose();
        await Scenario.Until(() => factory.Stops == 1, "the overflow worker is dismissed");
        Assert.Equal(0, pool.GetStatus().Consistent().Live);
    }

    [Fact]
    public async Task CheckoutAsync_WorkersFailToStartLater_PoolStaysUp()
    {
        var time = new FakeTimeProvider();
        var boom = new InvalidOperationException("no more workers");
        var factory = new FakeWorkerFactory { FailStart = n => n > 2 ? boom : null };
        var options = Scenario.Options(time, size: 2, maxOverflow: 1);
        await using var pool = await Pool.StartAsync(options, factory);
        var a = await pool.CheckoutAsync();
        var b = await pool.CheckoutAsync();

        // An overflow start fails for its caller; then a replacement fails, again and again, in the background.
        var ex = await Assert.ThrowsAsync<WorkerStartException>(async () => await pool.CheckoutAsync());
        Assert.Same(boom, ex.InnerException);
        a.Worker.Die();
        await Scenario.Until(() => pool.GetStatus().State == PoolState.Backoff, "the failing starts put the pool in backoff");

        // The pool is still up: the surviving worker is checked in and out as before.
        b.Dispose();
        var status = pool.GetStatus().Consistent();
        Assert.Equal(1, status.Idle);
        Assert.Equal(options.MaxRestarts!.Value + 1L, status.TotalStartFailures + status.TotalDeaths);
        using (var again = await pool.CheckoutAsync())
        {
            Assert.Equal(b.WorkerId, again.WorkerId);
        }

        // Once starts succeed again, the next retry refills the pool.
        factory.FailStart = null;
        time.Advance(options.BackoffInitialDelay);
        await Scenario.Until(() => pool.GetStatus().Idle == 2, "the pool refills");
        Assert.Equal(PoolState.Ready, pool.GetStatus().Consistent().State);
    }
}
