using Lifeguard.Testing;
using Microsoft.Extensions.Time.Testing;

namespace Lifeguard.Tests;

/// <summary>
/// The races of the short checkin: a lease's generation moves on under the pool's lock, in the same pass that makes
/// the worker idle or hands it to a waiter. Concurrent disposals of one lease, a caller queueing while the worker comes
/// back, and the derived checkout count.
/// </summary>
public sealed class FastPathTests
{
    private const int Rounds = 300;

    [Fact]
    public async Task Dispose_CopiesRacingOnSeveralThreads_ChecksTheWorkerInExactlyOnce()
    {
        var time = new FakeTimeProvider();
        var logs = new RecordingLoggerProvider();
        using var loggerFactory = logs.CreateFactory();
        var options = Scenario.Options(time, size: 1);
        options.LoggerFactory = loggerFactory;
        await using var pool = await Pool.StartAsync(options, new FakeWorkerFactory());
        const int copies = 4;

        for (int round = 0; round < Rounds; round++)
        {
            var lease = await pool.CheckoutAsync();
            using var go = new ManualResetEventSlim();
            var disposals = Enumerable.Range(0, copies).Select(_ => Task.Run(() =>
            {
                var copy = lease;
                go.Wait();
                copy.Dispose();
            })).ToArray();
            go.Set();
            await Task.WhenAll(disposals).WaitAsync(TimeSpan.FromSeconds(30));

            var status = pool.GetStatus().Consistent();
            Assert.Equal(1, status.Idle);
            Assert.Equal(0, status.Busy);
            Assert.False(lease.IsActive);
        }

        // Every round: one checkin, and every other copy was ignored as stale (logged, not counted).
        Assert.Equal(Rounds * (copies - 1), logs.Entries.Count(e => e.EventId.Id == 1301));
        Assert.Equal(Rounds, pool.GetStatus().TotalCheckouts);
    }

    [Fact]
    public async Task Dispose_WhileAnotherCallerQueues_TheCallerAlwaysGetsTheWorker()
    {
        // The caller either finds the worker idle or is queued before the checkin looks at the queue: both are
        // decided under the lock, so no interleaving leaves it waiting beside an idle worker.
        var options = Scenario.Options(time: null, size: 1);
        options.CheckoutTimeout = Timeout.InfiniteTimeSpan;
        await using var pool = await Pool.StartAsync(options, new FakeWorkerFactory());

        for (int round = 0; round < Rounds; round++)
        {
            var held = await pool.CheckoutAsync();
            using var go = new ManualResetEventSlim();
            var caller = Task.Run(async () =>
            {
                go.Wait();
                var lease = await pool.CheckoutAsync();
                lease.Dispose();
            });
            var returner = Task.Run(() =>
            {
                go.Wait();
                held.Dispose();
            });
            go.Set();
            await Task.WhenAll(caller, returner).WaitAsync(TimeSpan.FromSeconds(30));

            var status = pool.GetStatus().Consistent();
            Assert.Equal(1, status.Idle);
            Assert.Equal(0, status.Waiters);
        }

        Assert.Equal(2 * Rounds, pool.GetStatus().TotalCheckouts);
    }

    [Fact]
    public async Task TotalCheckouts_AfterWorkersLeave_StillCountsTheirCheckouts()
    {
        var time = new FakeTimeProvider();
        var factory = new FakeWorkerFactory();
        await using var pool = await Pool.StartAsync(Scenario.Options(time, size: 2), factory);

        for (int i = 0; i < 3; i++)
        {
            (await pool.CheckoutAsync()).Dispose();
        }

        var broken = await pool.CheckoutAsync();
        broken.MarkBroken();
        broken.Dispose();
        await Scenario.Until(() => pool.GetStatus().Idle == 2, "the broken worker is replaced");
        (await pool.CheckoutAsync()).Dispose();

        var status = pool.GetStatus().Consistent();
        Assert.Equal(5, status.TotalCheckouts);
        Assert.True(status.Workers.Sum(w => w.Uses) < status.TotalCheckouts, "the broken worker's uses still count after it left");
    }
}
