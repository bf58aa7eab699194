using Lifeguard.Testing;
using Microsoft.Extensions.Logging;
using Microsoft.Extensions.Time.Testing;

namespace Lifeguard.Tests;

public sealed class StopTests
{
    [Fact]
    public async Task StopAsync_ThenCheckouts_ThrowPoolStoppedException()
    {
        var time = new FakeTimeProvider();
        var factory = new FakeWorkerFactory();
        var options = Scenario.Options(time, size: 2, maxOverflow: 1);
        var pool = await Pool.StartAsync(options, factory);

        await pool.StopAsync();

        var ex = await Assert.ThrowsAsync<PoolStoppedException>(async () => await pool.CheckoutAsync());
        Assert.IsAssignableFrom<ObjectDisposedException>(ex);
        Assert.IsAssignableFrom<ILifeguardException>(ex);
        Assert.Equal(options.Name, ex.PoolName);
        Assert.Contains(options.Name, ex.Message, StringComparison.Ordinal);
        await Assert.ThrowsAsync<PoolStoppedException>(async () => await pool.CheckoutAsync(TimeSpan.Zero));
        await Assert.ThrowsAsync<PoolStoppedException>(async () => await pool.TryCheckoutAsync());
        await Assert.ThrowsAsync<PoolStoppedException>(() => pool.RunAsync((_, _) => Task.CompletedTask));
        Assert.Throws<PoolStoppedException>(() => pool.Resize(3, 1));
        Assert.Throws<PoolStoppedException>(pool.RecycleAll);
        var status = pool.GetStatus();
        Assert.Equal(PoolState.Stopped, status.State);
        Assert.Equal(0, status.Live);
        Assert.Equal(0, factory.Running);
    }

    [Fact]
    public async Task StopAsync_CallersWaiting_FailWithPoolStoppedException()
    {
        var time = new FakeTimeProvider();
        var options = Scenario.Options(time, size: 1);
        options.CheckoutTimeout = Timeout.InfiniteTimeSpan;
        await using var pool = await Pool.StartAsync(options, new FakeWorkerFactory());
        var held = await pool.CheckoutAsync();
        var first = pool.CheckoutAsync().AsTask();
        var second = pool.CheckoutAsync().AsTask();

        var stop = pool.StopAsync();

        var ex = await Assert.ThrowsAsync<PoolStoppedException>(() => first);
        Assert.Equal(options.Name, ex.PoolName);
        await Assert.ThrowsAsync<PoolStoppedException>(() => second);
        Assert.Equal(0, pool.GetStatus().Waiters);
        held.Dispose();
        await stop;
    }

    [Fact]
    public async Task StopAsync_LeasedWorker_AwaitedUpToDrainTimeoutThenStoppedAnyway()
    {
        var time = new FakeTimeProvider();
        var factory = new FakeWorkerFactory();
        var logs = new RecordingLoggerProvider();
        using var loggerFactory = logs.CreateFactory();
        var options = Scenario.Options(time, size: 2);
        options.DrainTimeout = TimeSpan.FromSeconds(30);
        options.LoggerFactory = loggerFactory;
        await using var pool = await Pool.StartAsync(options, factory);
        var lease = await pool.CheckoutAsync();
        var leased = lease.Worker;
        var idle = factory.All.Single(w => w != leased);

        var stop = pool.StopAsync();

        await Scenario.Until(() => idle.IsStopped, "the idle worker is stopped at once");
        time.Advance(TimeSpan.FromSeconds(30) - TimeSpan.FromTicks(1));
        Assert.False(stop.IsCompleted);
        Assert.False(leased.IsStopped);
        Assert.True(lease.IsActive);
        time.Advance(TimeSpan.FromTicks(1));

        await stop;
        Assert.Equal(1, leased.StopCount);
        Assert.Equal(0, factory.Running);
        Assert.Contains(logs.Entries, e => e.EventId.Id == 1004);

        // The late checkin is harmless: the worker is not stopped twice.
        lease.Dispose();
        Assert.Equal(1, leased.StopCount);
        Assert.Equal(2, factory.Stops);
    }

    [Fact]
    public async Task StopAsync_LeaseReturnedWhileDraining_CompletesWithoutWaitingForTheTimeout()
    {
        var time = new FakeTimeProvider();
        var factory = new FakeWorkerFactory();
        var options = Scenario.Options(time, size: 1, maxOverflow: 1);
        options.DrainTimeout = TimeSpan.FromSeconds(30);
        await using var pool = await Pool.StartAsync(options, factory);
        var a = await pool.CheckoutAsync();
        var b = await pool.CheckoutAsync();

        var stop = pool.StopAsync();
        a.Dispose();
        Assert.False(stop.IsCompleted);
        b.Dispose();

        await stop;
        Assert.Equal(0, factory.Running);
        Assert.All(factory.All, w => Assert.Equal(1, w.StopCount));
    }

    [Fact]
    public async Task StopAsync_InfiniteDrainTimeout_WaitsForEveryLease()
    {
        var time = new FakeTimeProvider();
        var factory = new FakeWorkerFactory();
        var options = Scenario.Options(time, size: 1);
        options.DrainTimeout = Timeout.InfiniteTimeSpan;
        await using var pool = await Pool.StartAsync(options, factory);
        var lease = await pool.CheckoutAsync();

        var stop = pool.StopAsync();
        time.Advance(TimeSpan.FromDays(400));

        Assert.False(stop.IsCompleted);
        lease.Dispose();
        await stop;
        Assert.Equal(0, factory.Running);
    }

    [Fact]
    public async Task StopAsync_CancellationToken_OnlyStopsTheWait()
    {
        var time = new FakeTimeProvider();
        var factory = new FakeWorkerFactory();
        var options = Scenario.Options(time, size: 1);
        options.DrainTimeout = Timeout.InfiniteTimeSpan;
        await using var pool = await Pool.StartAsync(options, factory);
        var lease = await pool.CheckoutAsync();
        using var cts = new CancellationTokenSource();

        var stop = pool.StopAsync(cts.Token);
        cts.Cancel();

        await Assert.ThrowsAnyAsync<OperationCanceledException>(() => stop);
        Assert.Equal(PoolState.Stopped, pool.GetStatus().State);
        lease.Dispose();
        await pool.StopAsync();
        Assert.Equal(0, factory.Running);
    }

    [Fact]
    public async Task StopAsync_CalledAgain_IsIdempotent()
    {
        var time = new FakeTimeProvider();
        var factory = new FakeWorkerFactory();
        var options = Scenario.Options(time, size: 3);
        options.DrainTimeout = TimeSpan.FromSeconds(30);
        var pool = await Pool.StartAsync(options, factory);
        var lease = await pool.CheckoutAsync();

        var first = pool.StopAsync();
        var second = pool.StopAsync();
        var third = pool.DisposeAsync().AsTask();
        Assert.False(first.IsCompleted);
        lease.Dispose();
        await Task.WhenAll(first, second, third);
        await pool.StopAsync();
        await pool.DisposeAsync();

        Assert.Equal(0, factory.Running);
        Assert.All(factory.All, w => Assert.Equal(1, w.StopCount));
    }

    [Fact]
    public async Task StopAsync_OverflowStartInFlight_CallerGetsPoolStoppedExceptionAndNothingRuns()
    {
        var time = new FakeTimeProvider();
        var factory = new FakeWorkerFactory();
        await using var pool = await Pool.StartAsync(Scenario.Options(time, size: 1, maxOverflow: 1), factory);
        var held = await pool.CheckoutAsync();
        factory.CloseGate();
        var checkout = pool.CheckoutAsync().AsTask();
        await Scenario.Until(() => factory.StartAttempts == 2, "the overflow start is in flight");

        await pool.StopAsync();

        await Assert.ThrowsAsync<PoolStoppedException>(() => checkout);
        Assert.Equal(0, factory.Running);
        Assert.Equal(0, pool.GetStatus().TotalStartFailures);
        held.Dispose();
    }

    [Fact]
    public async Task StopAsync_ReplacementStartInFlight_CompletesWithNothingRunning()
    {
        var time = new FakeTimeProvider();
        var factory = new SteppingWorkerFactory();
        factory.Release(2);
        await using var pool = await Pool.StartAsync(Scenario.Options(time, size: 2), factory);
        factory.Inner.All.First().Die();
        await Scenario.Until(() => factory.Waiting == 1, "the replacement start is in flight");

        await pool.StopAsync();

        Assert.Equal(0, factory.Inner.Running);
        Assert.Equal(0, factory.Waiting);
        Assert.Equal(PoolState.Stopped, pool.GetStatus().State);
    }

    [Fact]
    public async Task StopAsync_DrainTimeoutBeyondTheTimerRange_StillDrains()
    {
        var time = new FakeTimeProvider();
        var factory = new FakeWorkerFactory();
        var options = Scenario.Options(time, size: 1);
        options.DrainTimeout = TimeSpan.FromDays(60); // valid: positive
        await using var pool = await Pool.StartAsync(options, factory);
        var lease = await pool.CheckoutAsync();

        var stop = pool.StopAsync();

        Assert.False(stop.IsCompleted);
        lease.Dispose();
        await stop;
        Assert.Equal(0, factory.Running);
    }

    [Fact]
    public async Task StopAsync_LoggerReadsTheStatusOnTheDrainTimeoutWarning_StillStopsEveryWorker()
    {
        var time = new FakeTimeProvider();
        var factory = new FakeWorkerFactory();
        var logs = new StatusReadingLoggerProvider(eventId: 1004);
        using var loggerFactory = LoggerFactory.Create(b => b.AddProvider(logs));
        var options = Scenario.Options(time, size: 1);
        options.DrainTimeout = TimeSpan.FromSeconds(1);
        options.LoggerFactory = loggerFactory;
        await using var pool = await Pool.StartAsync(options, factory);
        logs.Pool = pool;
        using var lease = await pool.CheckoutAsync();

        // A logger is user code: it may well look at the pool it logs for.
        var stop = pool.StopAsync();
        time.Advance(TimeSpan.FromSeconds(1));

        await stop.WaitAsync(TimeSpan.FromSeconds(10));
        Assert.Equal(0, factory.Running);
        Assert.NotNull(logs.Seen);
    }

    /// <summary>A logger that reads its pool's status when it logs a given event.</summary>
    private sealed class StatusReadingLoggerProvider(int eventId) : ILoggerProvider, ILogger
    {
        public IPool? Pool { get; set; }

        public PoolStatus? Seen { get; private set; }

        public ILogger CreateLogger(string categoryName) => this;

        public IDisposable? BeginScope<TState>(TState state)
            where TState : notnull => null;

        public bool IsEnabled(LogLevel logLevel) => true;

        public void Log<TState>(LogLevel logLevel, EventId id, TState state, Exception? exception, Func<TState, Exception?, string> formatter)
        {
            if (id.Id == eventId)
            {
                Seen = Pool!.GetStatus();
            }
        }

        public void Dispose()
        {
        }
    }
}
