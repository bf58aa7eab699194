using Lifeguard.Testing;
using Microsoft.Extensions.Time.Testing;

namespace Lifeguard.Tests;

public sealed class SupervisionTests
{
    [Fact]
    public async Task ReportTerminated_MoreDeathsThanMaxRestarts_EntersBackoff()
    {
        var time = new FakeTimeProvider();
        var factory = new FakeWorkerFactory();
        var options = Scenario.Options(time, size: 2);
        options.MaxRestarts = 2;
        await using var pool = await Pool.StartAsync(options, factory);

        for (int i = 1; i <= 2; i++)
        {
            factory.All.Last().Die();
            await Scenario.Until(() => pool.GetStatus().Idle == 2, "the dead worker is replaced");
            Assert.Equal(PoolState.Ready, pool.GetStatus().State);
        }

        factory.CloseGate(); // no start may succeed from here on, or it would end the backoff
        var reason = new InvalidOperationException("third death");
        factory.All.Last().Die(reason);

        var status = pool.GetStatus().Consistent();
        Assert.Equal(PoolState.Backoff, status.State);
        Assert.Equal(3, status.TotalDeaths);
        Assert.Same(reason, status.LastFailure);
        Assert.Equal(0, status.Starting); // no immediate restart: the first retry waits for BackoffInitialDelay
        Assert.Equal(4, factory.StartAttempts);
    }

    [Fact]
    public async Task ReportTerminated_NoRestartLimit_NeverEntersBackoff()
    {
        var time = new FakeTimeProvider();
        var factory = new FakeWorkerFactory();
        var options = Scenario.Options(time, size: 2);
        options.MaxRestarts = null;
        await using var pool = await Pool.StartAsync(options, factory);

        // All within one restart window: any limit would have put the pool into backoff long before.
        for (int i = 1; i <= 50; i++)
        {
            factory.All.Last().Die();
            await Scenario.Until(() => pool.GetStatus().Idle == 2, "the dead worker is replaced");
        }

        var status = pool.GetStatus().Consistent();
        Assert.Equal(PoolState.Ready, status.State);
        Assert.Equal(50, status.TotalDeaths);
        Assert.Equal(52, factory.StartAttempts);
    }

    [Fact]
    public async Task ReportTerminated_ReplacementStartsKeepFailing_EntersBackoff()
    {
        var time = new FakeTimeProvider();
        var boom = new InvalidOperationException("cannot start");
        var factory = new FakeWorkerFactory();
        var options = Scenario.Options(time, size: 1);
        options.MaxRestarts = 2;
        await using var pool = await Pool.StartAsync(options, factory);
        factory.FailStart = _ => boom;

        // One death, then its replacement fails twice in a row: three failures > MaxRestarts.
        factory.All.Single().Die();

        await Scenario.Until(() => pool.GetStatus().State == PoolState.Backoff, "the pool enters backoff");
        var status = pool.GetStatus().Consistent();
        Assert.Equal(1, status.TotalDeaths);
        Assert.Equal(2, status.TotalStartFailures);
        Assert.Equal(3, factory.StartAttempts);
        var lastFailure = Assert.IsType<WorkerStartException>(status.LastFailure);
        Assert.Same(boom, lastFailure.InnerException);
    }

    [Fact]
    public async Task Backoff_IdleWorkersStillHandedOutButACheckoutNeedingANewWorkerFailsFast()
    {
        var time = new FakeTimeProvider();
        var factory = new FakeWorkerFactory();
        var options = Scenario.Options(time, size: 2, maxOverflow: 1);
        options.MaxRestarts = 0;
        await using var pool = await Pool.StartAsync(options, factory);
        factory.CloseGate();
        var reason = new InvalidOperationException("crashed");
        var survivor = factory.All.First();
        factory.All.Last().Die(reason);
        Assert.Equal(PoolState.Backoff, pool.GetStatus().State);

        var idle = pool.CheckoutAsync();
        Assert.True(idle.IsCompletedSuccessfully);
        using var lease = await idle;
        Assert.Same(survivor, lease.Worker);

        var checkout = pool.CheckoutAsync();
        Assert.True(checkout.IsCompleted);
        var ex = await Assert.ThrowsAsync<PoolBackoffException>(async () => await checkout);
        Assert.Same(reason, ex.InnerException);
        Assert.Equal(options.Name, ex.PoolName);
        Assert.Contains(nameof(PoolOptions.MaxRestarts), ex.Message, StringComparison.Ordinal);
        Assert.NotNull(ex.Status);
        Assert.Equal(PoolState.Backoff, ex.Status.State);
        await Assert.ThrowsAsync<PoolBackoffException>(async () => await pool.TryCheckoutAsync());
    }

    [Fact]
    public async Task Backoff_StartsRetriedAfterExponentiallyGrowingDelays()
    {
        var time = new FakeTimeProvider();
        var boom = new InvalidOperationException("cannot start");
        var factory = new FakeWorkerFactory();
        var options = Scenario.Options(time, size: 1);
        options.MaxRestarts = 0;
        options.BackoffInitialDelay = TimeSpan.FromMilliseconds(100);
        options.BackoffMaxDelay = TimeSpan.FromMilliseconds(1000);
        await using var pool = await Pool.StartAsync(options, factory);
        factory.FailStart = _ => boom;
        factory.CloseGate();
        factory.All.Single().Die();
        Assert.Equal(PoolState.Backoff, pool.GetStatus().State);

        int attempts = factory.StartAttempts;
        long failures = 0;
        foreach (int delay in new[] { 100, 200, 400, 800, 1000, 1000 })
        {
            time.Advance(TimeSpan.FromMilliseconds(delay - 1));
            Assert.Equal(0, pool.GetStatus().Starting); // a retry would be held at the closed gate, so visible here
            time.Advance(TimeSpan.FromMilliseconds(1));
            Assert.Equal(1, pool.GetStatus().Starting);
            await Scenario.Until(() => factory.StartAttempts == attempts + 1, $"the retry after {delay} ms reaches the factory");
            attempts++;
            factory.OpenGate();
            await Scenario.Until(() => pool.GetStatus().TotalStartFailures == failures + 1, $"the retry after {delay} ms fails");
            failures++;
            factory.CloseGate();
            Assert.Equal(PoolState.Backoff, pool.GetStatus().State);
        }

        // The first start that succeeds ends the backoff.
        factory.FailStart = null;
        factory.OpenGate();
        time.Advance(TimeSpan.FromMilliseconds(1000));
        await Scenario.Until(() => pool.GetStatus().Idle == 1, "the retry succeeds");
        var status = pool.GetStatus().Consistent();
        Assert.Equal(PoolState.Ready, status.State);
        using var lease = await pool.CheckoutAsync();
        await pool.DisposeAsync();
        Assert.Equal(attempts + 1, factory.StartAttempts);
    }

    [Fact]
    public async Task Backoff_FirstSuccessfulStartEndsItAndThePoolRefills()
    {
        var time = new FakeTimeProvider();
        var factory = new FakeWorkerFactory();
        var logs = new RecordingLoggerProvider();
        using var loggerFactory = logs.CreateFactory();
        var options = Scenario.Options(time, size: 3);
        options.MaxRestarts = 1;
        options.LoggerFactory = loggerFactory;
        await using var pool = await Pool.StartAsync(options, factory);
        factory.FailStart = _ => new InvalidOperationException("cannot start");
        factory.All.First().Die();
        await Scenario.Until(() => pool.GetStatus().State == PoolState.Backoff, "the pool enters backoff");
        factory.All.Last().Die(); // now two short
        // Logged after the transition, outside the pool's lock: the state can be seen a moment before the log.
        await Scenario.Until(() => logs.Entries.Any(e => e.EventId.Id == 1200), "the backoff is logged");

        factory.FailStart = null;
        time.Advance(options.BackoffMaxDelay);

        await Scenario.Until(() => pool.GetStatus().Idle == 3, "the pool refills");
        Assert.Equal(PoolState.Ready, pool.GetStatus().Consistent().State);
        await Scenario.Until(() => logs.Entries.Any(e => e.EventId.Id == 1201), "the end of the backoff is logged");
    }

    [Fact]
    public async Task Backoff_EnteredThroughOverflowStartFailures_EndsOnceStartsSucceedAgain()
    {
        var time = new FakeTimeProvider();
        var factory = new FakeWorkerFactory();
        var options = Scenario.Options(time, size: 1, maxOverflow: 1);
        options.MaxRestarts = 0;
        await using var pool = await Pool.StartAsync(options, factory);
        using var a = await pool.CheckoutAsync();
        factory.FailStart = n => n == 2 ? new InvalidOperationException("cannot start") : null;
        await Assert.ThrowsAsync<WorkerStartException>(async () => await pool.CheckoutAsync());
        Assert.Equal(PoolState.Backoff, pool.GetStatus().State);
        await Assert.ThrowsAsync<PoolBackoffException>(async () => await pool.CheckoutAsync());

        // Nothing is short (the base worker is alive), yet the pool must not refuse overflow for ever.
        time.Advance(options.BackoffInitialDelay);

        await Scenario.Until(() => pool.GetStatus().State != PoolState.Backoff, "the backoff ends");
        using var b = await pool.CheckoutAsync();
        Assert.Equal(2, pool.GetStatus().Consistent().Busy);
    }

    [Fact]
    public async Task Backoff_CallersQueuedWhenNoLiveWorkerIsLeft_FailFast()
    {
        var time = new FakeTimeProvider();
        var factory = new FakeWorkerFactory();
        var options = Scenario.Options(time, size: 1);
        options.MaxRestarts = 0;
        await using var pool = await Pool.StartAsync(options, factory);
        var held = await pool.CheckoutAsync();
        var waiting = pool.CheckoutAsync().AsTask();
        factory.CloseGate();

        var reason = new InvalidOperationException("crashed");
        held.Worker.Die(reason);

        var ex = await Assert.ThrowsAsync<PoolBackoffException>(() => waiting);
        Assert.Same(reason, ex.InnerException);
        Assert.Equal(0, pool.GetStatus().Waiters);
        held.Dispose();
    }

    [Fact]
    public async Task MarkBrokenAndRecycling_MaxRestartsZero_NeverEnterBackoff()
    {
        var time = new FakeTimeProvider();
        var factory = new FakeWorkerFactory();
        var options = Scenario.Options(time, size: 1);
        options.MaxRestarts = 0;
        options.MaxUsesPerWorker = 2;
        await using var pool = await Pool.StartAsync(options, factory);

        for (int i = 0; i < 4; i++)
        {
            var lease = await pool.CheckoutAsync();
            if (i % 2 == 0)
            {
                lease.MarkBroken();
            }

            lease.Dispose();
        }

        pool.RecycleAll();
        for (int i = 0; i < 3; i++)
        {
            using var lease = await pool.CheckoutAsync();
        }

        await Scenario.Until(() => pool.GetStatus().Idle == 1, "the last retired worker is replaced");
        var status = pool.GetStatus().Consistent();
        Assert.Equal(PoolState.Ready, status.State);
        Assert.Equal(0, status.TotalDeaths);
        Assert.Null(status.LastFailure);
        Assert.True(factory.Started >= 5, $"{factory.Started} workers started");

        // With MaxRestarts zero, one real death is enough: the counting itself works.
        factory.CloseGate();
        factory.All.Last().Die();
        Assert.Equal(PoolState.Backoff, pool.GetStatus().State);
    }

    [Fact]
    public async Task ReportTerminated_FailuresOlderThanRestartWindow_AreForgotten()
    {
        var time = new FakeTimeProvider();
        var factory = new FakeWorkerFactory();
        var options = Scenario.Options(time, size: 1);
        options.MaxRestarts = 1;
        options.RestartWindow = TimeSpan.FromSeconds(10);
        await using var pool = await Pool.StartAsync(options, factory);

        factory.All.Last().Die();
        await Scenario.Until(() => pool.GetStatus().Idle == 1, "the first dead worker is replaced");
        time.Advance(TimeSpan.FromSeconds(11));
        factory.All.Last().Die();
        await Scenario.Until(() => pool.GetStatus().Idle == 1, "the second dead worker is replaced");
        Assert.Equal(PoolState.Ready, pool.GetStatus().State);

        // Two failures within the window are one too many.
        factory.CloseGate();
        time.Advance(TimeSpan.FromSeconds(5));
        factory.All.Last().Die();
        Assert.Equal(PoolState.Backoff, pool.GetStatus().State);
    }

    [Fact]
    public async Task Backoff_StartsAlwaysFail_StartAttemptsStayBounded()
    {
        var time = new FakeTimeProvider();
        var factory = new FakeWorkerFactory();
        var options = Scenario.Options(time, size: 2);
        options.MaxRestarts = 3;
        await using var pool = await Pool.StartAsync(options, factory);
        factory.FailStart = _ => new InvalidOperationException("cannot start");

        factory.All.First().Die();
        await Scenario.Until(() => pool.GetStatus().State == PoolState.Backoff, "the pool enters backoff");

        // One death and three failed starts, then nothing until the clock moves, however often callers ask.
        Assert.Equal(2 + 3, factory.StartAttempts);
        for (int i = 0; i < 3; i++)
        {
            using var lease = await pool.CheckoutAsync();
            await Assert.ThrowsAsync<PoolBackoffException>(async () => await pool.CheckoutAsync());
            await Assert.ThrowsAsync<PoolBackoffException>(async () => await pool.TryCheckoutAsync());
        }

        await pool.DisposeAsync();
        Assert.Equal(2 + 3, factory.StartAttempts);
    }
}
