using System.Collections.Concurrent;
using Lifeguard.Testing;
using Microsoft.Extensions.Time.Testing;

namespace Lifeguard.Tests;

/// <summary>
/// Idle checks: with <see cref="PoolOptions.IdleCheckAfter"/>, a checkout validates only a worker idle longer than it,
/// within <see cref="PoolOptions.IdleCheckTimeout"/>; one that does not answer in time is replaced, and the caller gets
/// another worker.
/// </summary>
public sealed class IdleCheckTests
{
    private static readonly TimeSpan After = TimeSpan.FromSeconds(30);
    private static readonly TimeSpan CheckTimeout = TimeSpan.FromSeconds(1);
    private static readonly TimeSpan Bound = TimeSpan.FromSeconds(30);

    [Fact]
    public async Task CheckoutAsync_WorkerIdleLongerThanIdleCheckAfter_IsCheckedFirst()
    {
        var time = new FakeTimeProvider();
        var factory = new CheckingFactory();
        await using var pool = await Pool.StartAsync(Options(time, size: 1), factory);
        var worker = factory.All.Single();

        time.Advance(After + TimeSpan.FromSeconds(1));
        using var lease = await pool.CheckoutAsync();

        Assert.Same(worker, lease.Worker);
        Assert.Equal([worker.Id], factory.Checked);
    }

    [Fact]
    public async Task CheckoutAsync_WorkerIdleShorterThanIdleCheckAfter_IsNotChecked()
    {
        var time = new FakeTimeProvider();
        var factory = new CheckingFactory();
        await using var pool = await Pool.StartAsync(Options(time, size: 1), factory);

        for (int i = 0; i < 3; i++)
        {
            time.Advance(After - TimeSpan.FromSeconds(1));
            using var lease = await pool.CheckoutAsync();
        }

        Assert.Empty(factory.Checked);

        // Each checkin started its idle time over; only a stretch longer than IdleCheckAfter asks for a check.
        time.Advance(After + TimeSpan.FromSeconds(1));
        using (await pool.CheckoutAsync())
        {
            Assert.Single(factory.Checked);
        }
    }

    [Fact]
    public async Task CheckoutAsync_WithoutIdleCheckAfter_TheValidatorRunsOnEveryCheckout()
    {
        var time = new FakeTimeProvider();
        var factory = new CheckingFactory();
        await using var pool = await Pool.StartAsync(Scenario.Options(time, size: 1), factory);

        for (int i = 0; i < 3; i++)
        {
            using var lease = await pool.CheckoutAsync();
        }

        Assert.Equal(3, factory.Checked.Count);
    }

    [Theory]
    [InlineData(false)]
    [InlineData(true)] // set, but the factory validates nothing: there is nothing to check with
    public async Task CheckoutAndCheckin_FactoryWithoutValidator_ReadNoClock(bool idleCheckAfter)
    {
        var time = new CountingTimeProvider();
        using var metrics = new TestMetrics(); // a meter of its own, which nothing listens to
        var options = Scenario.Options(time, size: 1, metrics: metrics);
        options.IdleCheckAfter = idleCheckAfter ? After : null;
        await using var pool = await Pool.StartAsync(options, new FakeWorkerFactory());
        using (await pool.CheckoutAsync())
        {
            // The first checkout arms the sizing window, which reads the clock once.
        }

        int before = time.TimestampReads;
        for (int i = 0; i < 100; i++)
        {
            using var lease = await pool.CheckoutAsync();
        }

        Assert.Equal(before, time.TimestampReads);
    }

    [Fact]
    public async Task CheckoutAsync_WorkerHandedOnByACheckin_IsNotChecked()
    {
        var time = new FakeTimeProvider();
        var factory = new CheckingFactory();
        var options = Options(time, size: 1);
        options.CheckoutTimeout = Timeout.InfiniteTimeSpan;
        await using var pool = await Pool.StartAsync(options, factory);
        var held = await pool.CheckoutAsync(); // not checked: idle since its start, no time has passed
        var worker = held.Worker;

        time.Advance(After * 2); // long enough past its start, but busy all along
        var waiting = pool.CheckoutAsync().AsTask();
        await Scenario.Until(() => pool.GetStatus().Waiters == 1, "the caller queues");
        held.Dispose();
        using var lease = await waiting.WaitAsync(Bound);

        Assert.Same(worker, lease.Worker);
        Assert.Empty(factory.Checked);
    }

    [Theory]
    [InlineData(false)]
    [InlineData(true)]
    public async Task CheckoutAsync_CheckNotAnsweredInTime_WorkerReplacedAndTheCallerGetsAnother(bool ignoresToken)
    {
        var time = new FakeTimeProvider();
        var factory = new CheckingFactory { Hangs = 1, IgnoresToken = ignoresToken };
        await using var pool = await Pool.StartAsync(Options(time, size: 2), factory);
        time.Advance(After + TimeSpan.FromSeconds(1));

        var checkout = pool.CheckoutAsync().AsTask();
        await factory.Hanging.Task.WaitAsync(Bound);
        var frozen = factory.All.Single(w => w.Id == factory.Checked.First());
        Assert.False(checkout.IsCompleted);

        time.Advance(CheckTimeout);
        using var lease = await checkout.WaitAsync(Bound);

        Assert.NotSame(frozen, lease.Worker);
        Assert.Equal(2, factory.Checked.Count); // the other idle worker was checked too, and answered
        await Scenario.Until(() => frozen.IsStopped && factory.Started == 3 && pool.GetStatus() is { Live: 2, Starting: 0 }, "the frozen worker is replaced");
        var status = pool.GetStatus().Consistent();
        Assert.Equal(1, status.TotalDeaths);
        Assert.Equal(0, status.TotalTimeouts);
        Assert.DoesNotContain(status.Workers, w => w.Id == frozen.Id);
        Assert.Equal(3, factory.Started);
    }

    [Fact]
    public async Task CheckoutAsync_OnlyWorkerDoesNotAnswer_CallerGetsItsReplacementUnchecked()
    {
        var time = new FakeTimeProvider();
        var factory = new CheckingFactory { Hangs = 1 };
        await using var pool = await Pool.StartAsync(Options(time, size: 1), factory);
        var frozen = factory.All.Single();
        time.Advance(After + TimeSpan.FromSeconds(1));

        var checkout = pool.CheckoutAsync().AsTask();
        await factory.Hanging.Task.WaitAsync(Bound);
        time.Advance(CheckTimeout);
        using var lease = await checkout.WaitAsync(Bound);

        Assert.NotSame(frozen, lease.Worker);
        Assert.Equal([frozen.Id], factory.Checked); // a worker just started has not been idle
        await Scenario.Until(() => frozen.IsStopped, "the frozen worker is stopped");
        Assert.Equal(1, pool.GetStatus().Consistent().TotalDeaths);
    }

    [Fact]
    public async Task CheckoutAsync_TimeRunsOutWhileWorkersFailTheirChecks_TimesOutWithoutCheckingAnother()
    {
        var time = new FakeTimeProvider();
        var factory = new CheckingFactory { Hangs = 3 };
        var options = Options(time, size: 3);
        options.CheckoutTimeout = TimeSpan.FromSeconds(1.5);
        await using var pool = await Pool.StartAsync(options, factory);
        factory.CloseGate(); // replacements stay starting, so the third idle worker is the one left to take
        time.Advance(After + TimeSpan.FromSeconds(1));

        var checkout = pool.CheckoutAsync().AsTask();
        await factory.Hanging.Task.WaitAsync(Bound);
        time.Advance(CheckTimeout); // the first fails its check; 0.5 s is left, and the second is checked
        await Scenario.Until(() => factory.Checked.Count == 2, "a second worker is checked");
        Assert.False(checkout.IsCompleted);
        time.Advance(CheckTimeout); // the second fails too, past the caller's timeout

        var error = await Assert.ThrowsAsync<PoolTimeoutException>(() => checkout.WaitAsync(Bound));

        Assert.Equal(options.CheckoutTimeout, error.Timeout);
        Assert.Equal(2, factory.Checked.Count); // the third idle worker was not checked: that would overrun again
        factory.OpenGate();
        await Scenario.Until(() => pool.GetStatus() is { TotalDeaths: 2, Live: 3 }, "the two frozen workers are replaced");
        var status = pool.GetStatus().Consistent();
        Assert.Equal(1, status.TotalTimeouts);
        Assert.Equal(2, status.TotalCheckouts); // the two checked; the third, given back unchecked, is no checkout
    }

    [Fact]
    public async Task CheckoutAsync_CheckThrows_WorkerReplacedAndTheCallerGetsAnother()
    {
        var time = new FakeTimeProvider();
        var factory = new CheckingFactory();
        await using var pool = await Pool.StartAsync(Options(time, size: 1), factory);
        var sick = factory.All.Single();
        sick.Healthy = false;
        time.Advance(After + TimeSpan.FromSeconds(1));

        using var lease = await pool.CheckoutAsync();

        Assert.NotSame(sick, lease.Worker);
        await Scenario.Until(() => sick.IsStopped, "the sick worker is stopped");
    }

    private static PoolOptions Options(FakeTimeProvider time, int size, [System.Runtime.CompilerServices.CallerMemberName] string test = "")
    {
        var options = Scenario.Options(time, size, test: test);
        options.IdleCheckAfter = After;
        options.IdleCheckTimeout = CheckTimeout;
        return options;
    }

    /// <summary>Records each check; the first <see cref="Hangs"/> checks never answer (until their token fires, or at all).</summary>
    private sealed class CheckingFactory : FakeWorkerFactory, IWorkerValidator<FakeWorker>
    {
        private int _hangs;

        public ConcurrentQueue<int> Checked { get; } = new();

        public int Hangs { get => _hangs; init => _hangs = value; }

        public bool IgnoresToken { get; init; }

        public TaskCompletionSource Hanging { get; } = new(TaskCreationOptions.RunContinuationsAsynchronously);

        public async ValueTask<bool> ValidateAsync(FakeWorker worker, CancellationToken cancellationToken)
        {
            Checked.Enqueue(worker.Id);
            if (Interlocked.Decrement(ref _hangs) >= 0)
            {
                var never = new TaskCompletionSource(TaskCreationOptions.RunContinuationsAsynchronously);
                Hanging.TrySetResult();
                await (IgnoresToken ? never.Task : never.Task.WaitAsync(cancellationToken));
            }

            return worker.Healthy ? true : throw new InvalidOperationException("unwell");
        }
    }
}
