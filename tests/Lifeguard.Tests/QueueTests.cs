using Lifeguard.Testing;
using Microsoft.Extensions.Time.Testing;

namespace Lifeguard.Tests;

public sealed class QueueTests
{
    [Fact]
    public async Task CheckoutAsync_PoolFull_WaitersServedInArrivalOrder()
    {
        var time = new FakeTimeProvider();
        await using var pool = await Pool.StartAsync(Scenario.Options(time, size: 1), new FakeWorkerFactory());
        var held = await pool.CheckoutAsync();
        var waiters = Enumerable.Range(0, 5).Select(_ => pool.CheckoutAsync().AsTask()).ToList();
        Assert.Equal(5, pool.GetStatus().Consistent().Waiters);
        Assert.All(waiters, w => Assert.False(w.IsCompleted));

        held.Dispose();
        for (int i = 0; i < waiters.Count; i++)
        {
            var lease = await waiters[i];
            Assert.Equal(held.WorkerId, lease.WorkerId);
            Assert.All(waiters.Skip(i + 1), w => Assert.False(w.IsCompleted));
            Assert.Equal(waiters.Count - i - 1, pool.GetStatus().Consistent().Waiters);
            lease.Dispose();
        }

        Assert.Equal(1, pool.GetStatus().Consistent().Idle);
    }

    [Fact]
    public async Task CheckoutAsync_CanceledWhileWaiting_ThrowsOperationCanceledWithTheCallersToken()
    {
        var time = new FakeTimeProvider();
        await using var pool = await Pool.StartAsync(Scenario.Options(time, size: 1), new FakeWorkerFactory());
        var held = await pool.CheckoutAsync();
        using var cts = new CancellationTokenSource();
        var waiting = pool.CheckoutAsync(cts.Token).AsTask();
        var behind = pool.CheckoutAsync().AsTask();
        Assert.Equal(2, pool.GetStatus().Waiters);

        cts.Cancel();

        var ex = await Assert.ThrowsAnyAsync<OperationCanceledException>(() => waiting);
        Assert.Equal(cts.Token, ex.CancellationToken);
        Assert.Null(ex.InnerException);
        Assert.Equal(1, pool.GetStatus().Consistent().Waiters);

        // The caller behind it moves up and gets the next worker returned.
        held.Dispose();
        using var lease = await behind;
        Assert.Equal(held.WorkerId, lease.WorkerId);
    }

    [Fact]
    public async Task CheckoutAsync_TokenAlreadyCanceled_ThrowsOperationCanceledWithTheCallersToken()
    {
        var time = new FakeTimeProvider();
        await using var pool = await Pool.StartAsync(Scenario.Options(time, size: 1), new FakeWorkerFactory());
        using var cts = new CancellationTokenSource();
        cts.Cancel();

        var ex = await Assert.ThrowsAnyAsync<OperationCanceledException>(async () => await pool.CheckoutAsync(cts.Token));

        Assert.Equal(cts.Token, ex.CancellationToken);
        Assert.Equal(0, pool.GetStatus().TotalCheckouts);
        Assert.Equal(1, pool.GetStatus().Idle);
    }

    [Fact]
    public async Task CheckoutAsync_NoWorkerWithinDefaultTimeout_ThrowsPoolTimeoutException()
    {
        var time = new FakeTimeProvider();
        var options = Scenario.Options(time, size: 1);
        Assert.Equal(TimeSpan.FromSeconds(5), options.CheckoutTimeout);
        await using var pool = await Pool.StartAsync(options, new FakeWorkerFactory());
        var held = await pool.CheckoutAsync();
        var waiting = pool.CheckoutAsync().AsTask();

        time.Advance(TimeSpan.FromSeconds(5) - TimeSpan.FromTicks(1));
        Assert.False(waiting.IsCompleted);
        time.Advance(TimeSpan.FromTicks(1));

        var ex = await Assert.ThrowsAsync<PoolTimeoutException>(() => waiting);
        Assert.IsAssignableFrom<TimeoutException>(ex);
        Assert.IsAssignableFrom<ILifeguardException>(ex);
        Assert.Equal(options.Name, ex.PoolName);
        Assert.Contains(options.Name, ex.Message, StringComparison.Ordinal);
        Assert.Contains(nameof(PoolOptions.CheckoutTimeout), ex.Message, StringComparison.Ordinal);
        Assert.Equal(TimeSpan.FromSeconds(5), ex.Timeout);
        Assert.NotNull(ex.Status);
        Assert.Equal(options.Name, ex.Status.Name);
        Assert.Equal(1, ex.Status.Busy);
        Assert.Equal(PoolState.Full, ex.Status.State);
        var status = pool.GetStatus().Consistent();
        Assert.Equal(1, status.TotalTimeouts);
        Assert.Equal(0, status.Waiters);

        held.Dispose();
        Assert.Equal(1, pool.GetStatus().Consistent().Idle);
    }

    [Fact]
    public async Task CheckoutAsync_PerCallTimeout_OverridesTheOption()
    {
        var time = new FakeTimeProvider();
        await using var pool = await Pool.StartAsync(Scenario.Options(time, size: 1), new FakeWorkerFactory());
        using var held = await pool.CheckoutAsync();
        var waiting = pool.CheckoutAsync(TimeSpan.FromSeconds(1)).AsTask();

        time.Advance(TimeSpan.FromSeconds(1));

        var ex = await Assert.ThrowsAsync<PoolTimeoutException>(() => waiting);
        Assert.Equal(TimeSpan.FromSeconds(1), ex.Timeout);
    }

    [Fact]
    public async Task CheckoutAsync_NegativeTimeout_ThrowsArgumentOutOfRange()
    {
        var time = new FakeTimeProvider();
        await using var pool = await Pool.StartAsync(Scenario.Options(time, size: 1), new FakeWorkerFactory());

        Assert.Throws<ArgumentOutOfRangeException>(() => pool.CheckoutAsync(TimeSpan.FromSeconds(-1)));
    }

    [Fact]
    public async Task CheckoutAsync_InfiniteTimeout_WaitsUntilAWorkerIsReturned()
    {
        var time = new FakeTimeProvider();
        var options = Scenario.Options(time, size: 1);
        options.CheckoutTimeout = Timeout.InfiniteTimeSpan;
        await using var pool = await Pool.StartAsync(options, new FakeWorkerFactory());
        var held = await pool.CheckoutAsync();
        var waiting = pool.CheckoutAsync().AsTask();

        time.Advance(TimeSpan.FromDays(400));

        Assert.False(waiting.IsCompleted);
        Assert.Equal(0, pool.GetStatus().TotalTimeouts);
        held.Dispose();
        using var lease = await waiting;
        Assert.Equal(held.WorkerId, lease.WorkerId);
    }

    [Fact]
    public async Task CheckoutAsync_ZeroTimeoutAndFull_ThrowsPoolTimeoutAtOnceWithoutQueueing()
    {
        var time = new FakeTimeProvider();
        var options = Scenario.Options(time, size: 1, maxOverflow: 1);
        options.CheckoutTimeout = TimeSpan.Zero;
        await using var pool = await Pool.StartAsync(options, new FakeWorkerFactory());

        // Zero never queues, but an idle worker or one the cap allows to start is still handed out.
        using var idle = await pool.CheckoutAsync();
        using var overflow = await pool.CheckoutAsync();

        var checkout = pool.CheckoutAsync();
        Assert.True(checkout.IsCompleted);
        var ex = await Assert.ThrowsAsync<PoolTimeoutException>(async () => await checkout);
        Assert.Equal(TimeSpan.Zero, ex.Timeout);
        Assert.Contains(nameof(PoolOptions.CheckoutTimeout), ex.Message, StringComparison.Ordinal);
        Assert.Contains(options.Name, ex.Message, StringComparison.Ordinal);
        var status = pool.GetStatus().Consistent();
        Assert.Equal(0, status.Waiters);
        Assert.Equal(1, status.TotalTimeouts);
    }

    [Fact]
    public async Task CheckoutAsync_MaxWaitersQueued_RejectedAtOnce()
    {
        var time = new FakeTimeProvider();
        var options = Scenario.Options(time, size: 1);
        options.MaxWaiters = 2;
        await using var pool = await Pool.StartAsync(options, new FakeWorkerFactory());
        var held = await pool.CheckoutAsync();
        var first = pool.CheckoutAsync().AsTask();
        var second = pool.CheckoutAsync().AsTask();

        var checkout = pool.CheckoutAsync();

        Assert.True(checkout.IsCompleted);
        var ex = await Assert.ThrowsAsync<PoolRejectedException>(async () => await checkout);
        Assert.IsAssignableFrom<ILifeguardException>(ex);
        Assert.Equal(options.Name, ex.PoolName);
        Assert.Contains(nameof(PoolOptions.MaxWaiters), ex.Message, StringComparison.Ordinal);
        Assert.NotNull(ex.Status);
        Assert.Equal(2, ex.Status.Waiters);
        var status = pool.GetStatus().Consistent();
        Assert.Equal(1, status.TotalRejections);
        Assert.Equal(2, status.Waiters);

        // The queued callers are unaffected and still served in order.
        held.Dispose();
        (await first).Dispose();
        (await second).Dispose();
        Assert.Equal(1, pool.GetStatus().TotalRejections);
    }

    [Fact]
    public async Task CheckoutAsync_MaxWaitersZero_NeverQueues()
    {
        var time = new FakeTimeProvider();
        var options = Scenario.Options(time, size: 1);
        options.MaxWaiters = 0;
        await using var pool = await Pool.StartAsync(options, new FakeWorkerFactory());
        using var held = await pool.CheckoutAsync();

        await Assert.ThrowsAsync<PoolRejectedException>(async () => await pool.CheckoutAsync());
        await Assert.ThrowsAsync<PoolRejectedException>(async () => await pool.CheckoutAsync());

        var status = pool.GetStatus().Consistent();
        Assert.Equal(2, status.TotalRejections);
        Assert.Equal(0, status.Waiters);
    }

    [Fact]
    public async Task CheckoutAsync_CheckinRacesCancellation_NoWorkerIsEverLost()
    {
        var time = new FakeTimeProvider();
        var factory = new FakeWorkerFactory();
        var options = Scenario.Options(time, size: 1);
        options.CheckoutTimeout = Timeout.InfiniteTimeSpan;
        await using var pool = await Pool.StartAsync(options, factory);
        var random = new Random(42);
        int served = 0, canceled = 0;

        for (int i = 0; i < 500; i++)
        {
            // Random head starts spread the two transitions over every interleaving.
            int checkinSpins = random.Next(300), cancelSpins = random.Next(300);
            var held = await pool.CheckoutAsync();
            using var cts = new CancellationTokenSource();
            var waiting = pool.CheckoutAsync(cts.Token).AsTask();
            await RaceAsync(
                () =>
                {
                    Thread.SpinWait(checkinSpins);
                    held.Dispose();
                },
                () =>
                {
                    Thread.SpinWait(cancelSpins);
                    cts.Cancel();
                });

            try
            {
                var lease = await waiting;
                Assert.Equal(held.WorkerId, lease.WorkerId);
                lease.Dispose();
                served++;
            }
            catch (OperationCanceledException e)
            {
                Assert.Equal(cts.Token, e.CancellationToken);
                canceled++;
            }

            var status = pool.GetStatus().Consistent();
            Assert.Equal(1, status.Idle);
            Assert.Equal(0, status.Busy);
            Assert.Equal(0, status.Waiters);
        }

        Assert.Equal(500, served + canceled);
        Assert.Equal(1, factory.Started);
        Assert.Equal(0, factory.Stops);
    }

    [Fact]
    public async Task CheckoutAsync_CheckinRacesTimeout_NoWorkerIsEverLost()
    {
        var time = new FakeTimeProvider();
        var factory = new FakeWorkerFactory();
        await using var pool = await Pool.StartAsync(Scenario.Options(time, size: 2), factory);
        var random = new Random(42);
        int served = 0, timedOut = 0;

        for (int i = 0; i < 300; i++)
        {
            int checkinSpins = random.Next(300), timeoutSpins = random.Next(300);
            var held = new[] { await pool.CheckoutAsync(), await pool.CheckoutAsync() };
            var waiting = new[] { pool.CheckoutAsync().AsTask(), pool.CheckoutAsync().AsTask() };
            await RaceAsync(
                () =>
                {
                    Thread.SpinWait(checkinSpins);
                    held[0].Dispose();
                    held[1].Dispose();
                },
                () =>
                {
                    Thread.SpinWait(timeoutSpins);
                    time.Advance(TimeSpan.FromSeconds(5));
                });

            foreach (var w in waiting)
            {
                try
                {
                    (await w).Dispose();
                    served++;
                }
                catch (PoolTimeoutException)
                {
                    timedOut++;
                }
            }

            var status = pool.GetStatus().Consistent();
            Assert.Equal(2, status.Idle);
            Assert.Equal(0, status.Busy);
            Assert.Equal(0, status.Waiters);
            Assert.Equal(timedOut, status.TotalTimeouts);
        }

        Assert.Equal(600, served + timedOut);
        Assert.Equal(2, factory.Started);
    }

    [Fact]
    public async Task CheckoutAsync_ManyCallersReturningAndGivingUp_EveryWorkerAccountedFor()
    {
        var time = new FakeTimeProvider();
        var factory = new FakeWorkerFactory();
        var options = Scenario.Options(time, size: 3, maxOverflow: 2);
        options.CheckoutTimeout = Timeout.InfiniteTimeSpan;
        await using var pool = await Pool.StartAsync(options, factory);

        for (int i = 0; i < 100; i++)
        {
            var held = new List<Lease<FakeWorker>>();
            for (int j = 0; j < 5; j++)
            {
                held.Add(await pool.CheckoutAsync());
            }

            var sources = Enumerable.Range(0, 6).Select(_ => new CancellationTokenSource()).ToList();
            var waiting = sources.Select(s => pool.CheckoutAsync(s.Token).AsTask()).ToList();
            Assert.Equal(6, pool.GetStatus().Waiters);
            await RaceAsync(
                () => held.ForEach(l => l.Dispose()),
                () => sources.ForEach(s => s.Cancel()));

            foreach (var w in waiting)
            {
                try
                {
                    (await w).Dispose();
                }
                catch (OperationCanceledException)
                {
                }
            }

            sources.ForEach(s => s.Dispose());
            await Scenario.Until(() => factory.Running == 3, "overflow workers are dismissed");
            var status = pool.GetStatus().Consistent();
            Assert.Equal(3, status.Idle);
            Assert.Equal(0, status.Busy);
            Assert.Equal(0, status.Waiters);
            Assert.Equal(0, status.Starting);
        }
    }

    [Fact]
    public async Task CheckoutAsync_WaiterHandedAWorkerThatFailsValidation_KeepsItsPlaceInTheQueue()
    {
        var time = new FakeTimeProvider();
        var factory = new ValidatingFakeWorkerFactory();
        var options = Scenario.Options(time, size: 1);
        options.CheckoutTimeout = Timeout.InfiniteTimeSpan;
        await using var pool = await Pool.StartAsync(options, factory);
        var held = await pool.CheckoutAsync();
        var first = pool.CheckoutAsync().AsTask();
        var second = pool.CheckoutAsync().AsTask();
        factory.CloseGate();

        // The worker returned to the first caller fails its validation; its replacement is held at the gate.
        var sick = held.Worker;
        sick.Healthy = false;
        held.Dispose();
        await Scenario.Until(
            () => factory.StartAttempts == 2 && pool.GetStatus().Waiters == 2,
            "the sick worker is dropped and its replacement is starting");
        factory.OpenGate();

        var winner = await Task.WhenAny(first, second);
        var other = winner == first ? second : first;
        using (var lease = await winner)
        {
            Assert.NotSame(sick, lease.Worker);
            Assert.Same(first, winner);
        }

        (await other).Dispose();
    }

    [Fact]
    public async Task CheckoutAsync_WaiterHandedAWorkerThatFailsValidation_IsNotRejectedByMaxWaiters()
    {
        var time = new FakeTimeProvider();
        var factory = new SlowValidatingFactory();
        var options = Scenario.Options(time, size: 1);
        options.CheckoutTimeout = Timeout.InfiniteTimeSpan;
        options.MaxWaiters = 1;
        await using var pool = await Pool.StartAsync(options, factory);
        var held = await pool.CheckoutAsync();
        var first = pool.CheckoutAsync().AsTask();
        held.Worker.Healthy = false;

        // The first caller is handed the sick worker and validates it; meanwhile a second caller takes the free place.
        held.Dispose();
        await factory.Validating.Task;
        var second = pool.CheckoutAsync().AsTask();
        Assert.Equal(1, pool.GetStatus().Waiters);
        factory.CloseGate(); // the replacement waits until the first caller is back in the queue (or rejected)
        factory.Release.SetResult();
        await Scenario.Until(() => pool.GetStatus().Waiters == 2 || first.IsCompleted, "the first caller queues again");
        factory.OpenGate();

        // The first caller was queued within the limit; losing its worker must not make it a rejected newcomer.
        var lease = await first;
        Assert.True(lease.Worker.Healthy);
        Assert.Equal(0, pool.GetStatus().TotalRejections);
        lease.Dispose();
        (await second).Dispose();
    }

    [Fact]
    public async Task CheckoutAsync_WaiterHandedAWorkerThatFailsValidation_KeepsItsTurnWhenTheReplacementIsQuick()
    {
        // Unlike the tests above, the replacement is not held back: it may be up before the first caller has queued
        // again. To make that likely, the first caller's thread is slowed down (its clock reads stall) right after
        // its validation failed. Whatever the timing, the first caller must get the replacement.
        for (int round = 0; round < 10; round++)
        {
            var time = new StallingTimeProvider(new FakeTimeProvider());
            var factory = new SlowValidatingFactory { StallAfterFailing = true };
            var options = Scenario.Options(time, size: 1);
            options.CheckoutTimeout = TimeSpan.FromHours(1);
            await using var pool = await Pool.StartAsync(options, factory);
            var held = await pool.CheckoutAsync();
            var first = pool.CheckoutAsync().AsTask();
            var second = pool.CheckoutAsync().AsTask();
            held.Worker.Healthy = false;
            held.Dispose();
            await factory.Validating.Task;

            factory.Release.SetResult();

            var winner = await Task.WhenAny(first, second);
            (await winner).Dispose();
            (await (winner == first ? second : first)).Dispose();
            Assert.True(winner == first, $"round {round}: the second caller overtook the first");
        }
    }

    [Fact]
    public async Task CheckoutAsync_TimeoutLongerThanATimerCanWait_TimesOutOnTime()
    {
        var time = new FakeTimeProvider();
        var options = Scenario.Options(time, size: 1);
        options.CheckoutTimeout = TimeSpan.FromDays(120);
        await using var pool = await Pool.StartAsync(options, new FakeWorkerFactory());
        using var held = await pool.CheckoutAsync();
        var waiting = pool.CheckoutAsync().AsTask();
        var forever = pool.CheckoutAsync(TimeSpan.MaxValue).AsTask();

        time.Advance(TimeSpan.FromDays(120) - TimeSpan.FromTicks(1));
        Assert.False(waiting.IsCompleted);
        time.Advance(TimeSpan.FromTicks(1));

        var ex = await Assert.ThrowsAsync<PoolTimeoutException>(() => waiting);
        Assert.Equal(TimeSpan.FromDays(120), ex.Timeout);
        time.Advance(TimeSpan.FromDays(3650));
        Assert.False(forever.IsCompleted);
        held.Dispose();
        (await forever).Dispose();
    }

    [Theory]
    [InlineData(60)]
    [InlineData(int.MaxValue)]
    public async Task CheckoutAsync_TimeoutBeyondTheTimerRange_WaitsAndNeverLosesTheWorker(int days)
    {
        // The system clock, whose timers take at most about 49.7 days: a valid CheckoutTimeout may be longer.
        var factory = new FakeWorkerFactory();
        var options = Scenario.Options(time: null, size: 1);
        options.CheckoutTimeout = days == int.MaxValue ? TimeSpan.MaxValue : TimeSpan.FromDays(days);
        await using var pool = await Pool.StartAsync(options, factory);
        var held = await pool.CheckoutAsync();

        var waiting = pool.CheckoutAsync().AsTask();

        Assert.False(waiting.IsCompleted, waiting.Exception?.InnerException?.Message);
        Assert.Equal(1, pool.GetStatus().Waiters);
        held.Dispose();
        using var lease = await waiting;
        Assert.Equal(held.WorkerId, lease.WorkerId);
        Assert.Equal(1, pool.GetStatus().Consistent().Busy);
    }

    /// <summary>Runs two actions on two dedicated threads that spin until both are ready, so they start together.</summary>
    private static Task RaceAsync(Action first, Action second)
    {
        int ready = 0;
        return Task.WhenAll(new[] { first, second }.Select(action => Task.Factory.StartNew(
            () =>
            {
                Interlocked.Increment(ref ready);
                var spinner = default(SpinWait);
                while (Volatile.Read(ref ready) < 2)
                {
                    spinner.SpinOnce(sleep1Threshold: -1);
                }

                action();
            },
            CancellationToken.None,
            TaskCreationOptions.LongRunning,
            TaskScheduler.Default)));
    }

    /// <summary>Validates workers, holding the answer for an unhealthy one until the test releases it.</summary>
    private sealed class SlowValidatingFactory : FakeWorkerFactory, IWorkerValidator<FakeWorker>
    {
        public TaskCompletionSource Validating { get; } = new(TaskCreationOptions.RunContinuationsAsynchronously);

        public TaskCompletionSource Release { get; } = new(TaskCreationOptions.RunContinuationsAsynchronously);

        /// <summary>Slow down the clock reads of the thread that reports the failure, for a moment.</summary>
        public bool StallAfterFailing { get; init; }

        public async ValueTask<bool> ValidateAsync(FakeWorker worker, CancellationToken cancellationToken)
        {
            if (worker.Healthy)
            {
                return true;
            }

            Validating.TrySetResult();
            await Release.Task.WaitAsync(cancellationToken);
            if (StallAfterFailing)
            {
                StallingTimeProvider.StallThisThread(TimeSpan.FromMilliseconds(10));
            }

            return false;
        }
    }

    /// <summary>A manual clock whose reads stall, for a moment, on a thread that asked for it: widens race windows.</summary>
    private sealed class StallingTimeProvider(FakeTimeProvider inner) : TimeProvider
    {
        [ThreadStatic]
        private static long _stallUntil;

        public override long TimestampFrequency => inner.TimestampFrequency;

        public static void StallThisThread(TimeSpan span) => _stallUntil = Environment.TickCount64 + (long)span.TotalMilliseconds;

        public override long GetTimestamp()
        {
            if (Environment.TickCount64 < _stallUntil)
            {
                // Not synchronisation: only makes the other thread's win likely, if the pool lets it. A blocking wait,
                // so that the thread pool runs queued work (the replacement's start) on another thread meanwhile.
                Task.Delay(1).Wait();
            }

            return inner.GetTimestamp();
        }

        public override DateTimeOffset GetUtcNow() => inner.GetUtcNow();

        public override ITimer CreateTimer(TimerCallback callback, object? state, TimeSpan dueTime, TimeSpan period)
            => inner.CreateTimer(callback, state, dueTime, period);
    }
}
