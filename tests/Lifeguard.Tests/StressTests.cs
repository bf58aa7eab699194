using System.Collections.Concurrent;
using System.Diagnostics;
using Lifeguard.Testing;
using Xunit.Abstractions;

namespace Lifeguard.Tests;

/// <summary>
/// Many callers hammer a small pool on the real clock, with random cancellations, broken leases, worker deaths and
/// (in some tests) failing starts, for a bounded number of operations and at most a few seconds. At the end every
/// caller has finished, every operation succeeded or failed in an expected way, nothing is lost (the pool is back at
/// its size, idle) and, after the pool is disposed, every worker ever started was stopped exactly once.
/// </summary>
public sealed class StressTests(ITestOutputHelper output)
{
    private const int Callers = 64;
    private const int OpsPerCaller = 250;
    private static readonly TimeSpan Budget = TimeSpan.FromSeconds(2.5);

    [Fact]
    public Task Checkout_ShortTimeoutsCancellationsBrokenLeasesAndDeaths_NothingLostOrLeaked()
        => RunAsync(new StressConfig(Seed: 101, InfiniteTimeout: false, TryPercent: 0, FailEvery: 0));

    [Fact]
    public Task Checkout_InfiniteTimeoutWithTokenCancellationsAndDeaths_NothingLostOrLeaked()
        => RunAsync(new StressConfig(Seed: 202, InfiniteTimeout: true, TryPercent: 0, FailEvery: 0));

    [Fact]
    public Task Checkout_InjectedStartFailuresAndDeaths_NothingLostOrLeaked()
        => RunAsync(new StressConfig(Seed: 303, InfiniteTimeout: false, TryPercent: 0, FailEvery: 5));

    [Fact]
    public Task TryCheckoutMixedWithCheckout_CancellationsAndDeaths_NothingLostOrLeaked()
        => RunAsync(new StressConfig(Seed: 404, InfiniteTimeout: false, TryPercent: 40, FailEvery: 7));

    [Fact]
    public async Task StopAsync_WhileManyCallersHammer_EveryCallerEndsAndEveryWorkerStops()
    {
        var factory = new FakeWorkerFactory();
        var pool = await Pool.StartAsync(Options("stop", TimeSpan.FromSeconds(2)), factory);
        var stats = new StressStats();
        var held = new ConcurrentDictionary<int, int>();
        using var stopSignal = new CancellationTokenSource();
        var config = new StressConfig(Seed: 505, InfiniteTimeout: true, TryPercent: 20, FailEvery: 0);
        var callers = Enumerable.Range(0, Callers)
            .Select(i => Task.Run(() => CallerAsync(pool, config, i, stats, held, stopSignal.Token, stopping: true)))
            .ToArray();
        await FakeWorkerFactory.WaitUntilAsync(() => Interlocked.Read(ref stats.Leases) >= 500, "the callers are under way");
        var stop = pool.StopAsync();
        await stop.WaitAsync(TimeSpan.FromSeconds(20));

        // The stop completes only once every worker has been stopped; callers then fail fast and finish.
        Assert.Equal(0, factory.Running);
        await Task.WhenAll(callers).WaitAsync(TimeSpan.FromSeconds(20));
        output.WriteLine(stats.ToString());
        Assert.True(stats.Unexpected.IsEmpty, string.Join(Environment.NewLine, stats.Unexpected.Take(5)));
        Assert.True(stats.Stopped > 0, "some callers saw the pool stopped");
        Assert.Empty(held);
        var s = pool.GetStatus();
        Assert.Equal(PoolState.Stopped, s.State);
        Assert.Equal((0, 0, 0, 0), (s.Idle, s.Busy, s.Starting, s.Waiters));
        Assert.All(factory.All, w => Assert.Equal(1, w.StopCount));
        await pool.DisposeAsync();
        Assert.Equal(0, factory.Running);
    }

    /// <summary>
    /// A factory may do synchronous work before its first await (Process.Start does). While the overflow start of one
    /// caller is stuck there, the pool must still serve everyone else: its lock must not be held around user code.
    /// </summary>
    [Fact]
    public async Task CheckoutAsync_OverflowStartBlocksBeforeItsFirstAwait_OtherCallersAreNotStalled()
    {
        var factory = new BlockingStartFactory();
        var options = Options("blocking-start", TimeSpan.FromSeconds(5));
        options.Size = 1;
        options.MaxOverflow = 1;
        options.DrainTimeout = TimeSpan.Zero;
        var pool = await Pool.StartAsync(options, factory);
        Task? others = null;
        Task<Lease<FakeWorker>>? overflow = null;
        bool responsive;
        try
        {
            var first = await pool.CheckoutAsync();
            factory.BlockNextStart();
            overflow = Task.Run(async () => await pool.CheckoutAsync());
            Assert.True(factory.Entered.Wait(TimeSpan.FromSeconds(10)), "the overflow start began");

            // Other threads: a status read and a checkin. Neither may wait for the blocked start.
            others = Task.WhenAll(Task.Run(pool.GetStatus), Task.Run(first.Dispose));
            responsive = await Task.WhenAny(others, Task.Delay(TimeSpan.FromSeconds(2))) == others;
        }
        finally
        {
            factory.Release.Set();
            if (others is not null)
            {
                await others.WaitAsync(TimeSpan.FromSeconds(10));
            }

            if (overflow is not null)
            {
                (await overflow.WaitAsync(TimeSpan.FromSeconds(10))).Dispose();
            }

            await pool.DisposeAsync();
        }

        Assert.True(responsive, "GetStatus and a checkin on other threads waited for a factory's synchronous start: the pool's lock is held while user code runs");
        Assert.Equal(0, factory.Inner.Running);
    }

    private async Task RunAsync(StressConfig config)
    {
        var factory = new FakeWorkerFactory();
        var options = Options($"stress-{config.Seed}", config.InfiniteTimeout ? Timeout.InfiniteTimeSpan : TimeSpan.FromMilliseconds(100));
        var pool = await Pool.StartAsync(options, factory);
        try
        {
            if (config.FailEvery > 0)
            {
                // After the initial fill: every FailEvery-th start attempt throws.
                factory.FailStart = attempt => attempt % config.FailEvery == 0
                    ? new InvalidOperationException($"injected start failure (attempt {attempt})")
                    : null;
            }

            var stats = new StressStats();
            var held = new ConcurrentDictionary<int, int>();
            using var done = new CancellationTokenSource();
            var clock = Stopwatch.StartNew();
            var chaos = Task.Run(() => ChaosAsync(pool, factory, config, stats, done.Token));
            var callers = Enumerable.Range(0, Callers)
                .Select(i => Task.Run(() => CallerAsync(pool, config, i, stats, held, CancellationToken.None, stopping: false)))
                .ToArray();

            // Every caller finishes (bounded: a lost wake-up would hang one for ever).
            await Task.WhenAll(callers).WaitAsync(TimeSpan.FromSeconds(30));
            await done.CancelAsync();
            await chaos.WaitAsync(TimeSpan.FromSeconds(10));
            factory.FailStart = null;
            output.WriteLine($"seed {config.Seed}: {stats} in {clock.Elapsed.TotalSeconds:0.00} s");
            Assert.True(stats.Unexpected.IsEmpty, $"seed {config.Seed}: unexpected outcomes:{Environment.NewLine}{string.Join(Environment.NewLine, stats.Unexpected.Take(5))}");
            Assert.True(stats.Leases > Callers, $"seed {config.Seed}: too little progress: {stats}");
            Assert.Empty(held);

            // Quiesced: nothing busy, nobody waiting, no start or stop in flight; the pool is back at its size.
            await FakeWorkerFactory.WaitUntilAsync(
                () => pool.GetStatus() is { Starting: 0, Busy: 0, Waiters: 0 } s && factory.Running == s.Idle && s.Idle == options.Size,
                $"the pool settles at {options.Size} idle workers (now {pool.GetStatus()}, factory running {factory.Running})");
            var status = pool.GetStatus();
            Assert.Equal(PoolState.Ready, status.State);
            Assert.Equal(status.Idle, status.Workers.Count);
            Assert.All(status.Workers, w => Assert.Equal(WorkerState.Idle, w.State));
            Assert.Equal(stats.Leases, status.TotalCheckouts);
            Assert.Equal(stats.Timeouts, status.TotalTimeouts);
            Assert.Equal(factory.FailedStarts, status.TotalStartFailures);
            Assert.Equal(factory.Started, status.TotalStarts);
            Assert.InRange(status.TotalRestarts, 0, status.TotalStarts - options.Size);
            Assert.InRange(status.TotalDeaths, 1, stats.Kills);
            Assert.Equal(factory.StartAttempts, factory.Started + factory.FailedStarts);
            if (config.FailEvery > 0)
            {
                Assert.True(factory.FailedStarts > 0, "some starts failed");
            }

            var listed = status.Workers.Select(w => w.Id).ToHashSet();
            Assert.All(factory.All, w => Assert.Equal(listed.Contains(w.Id) ? 0 : 1, w.StopCount));
        }
        finally
        {
            await pool.DisposeAsync();
        }

        Assert.Equal(0, factory.Running);
        Assert.All(factory.All, w => Assert.Equal(1, w.StopCount));
    }

    private static PoolOptions Options(string name, TimeSpan checkoutTimeout) => new()
    {
        Name = $"{name}-{Guid.NewGuid():N}",
        Size = 4,
        MaxOverflow = 2,
        CheckoutTimeout = checkoutTimeout,
        MaxRestarts = 1_000_000,
        DrainTimeout = TimeSpan.FromSeconds(5),
        TimeProvider = TimeProvider.System,
    };

    /// <summary>One caller: checkouts (or try-checkouts) with random timeouts and cancellations, short holds, some broken.</summary>
    private static async Task CallerAsync(
        Pool<FakeWorker> pool, StressConfig config, int index, StressStats stats, ConcurrentDictionary<int, int> held, CancellationToken stop, bool stopping)
    {
        var rng = new Random((config.Seed * 1000) + index);
        var clock = Stopwatch.StartNew();
        for (int op = 0; (stopping || op < OpsPerCaller) && clock.Elapsed < Budget * (stopping ? 4 : 1) && !stop.IsCancellationRequested; op++)
        {
            bool isTry = rng.Next(100) < config.TryPercent;
            bool cancellable = config.InfiniteTimeout || rng.Next(3) == 0;
            using var cts = cancellable ? new CancellationTokenSource() : null;
            cts?.CancelAfter(rng.Next(0, 30));
            var token = cts?.Token ?? CancellationToken.None;
            Lease<FakeWorker>? lease = null;
            try
            {
                if (isTry)
                {
                    lease = await pool.TryCheckoutAsync(token);
                }
                else
                {
                    var timeout = config.InfiniteTimeout ? Timeout.InfiniteTimeSpan : TimeSpan.FromMilliseconds(rng.Next(50, 201));
                    lease = rng.Next(2) == 0 ? await pool.CheckoutAsync(timeout, token) : await pool.CheckoutAsync(token);
                }
            }
            catch (OperationCanceledException e) when (cts is not null && cts.IsCancellationRequested && e.CancellationToken == token)
            {
                Interlocked.Increment(ref stats.Canceled);
                continue;
            }
            catch (PoolTimeoutException) when (!isTry && !config.InfiniteTimeout)
            {
                Interlocked.Increment(ref stats.Timeouts);
                continue;
            }
            catch (WorkerStartException) when (config.FailEvery > 0)
            {
                Interlocked.Increment(ref stats.StartFailures);
                continue;
            }
            catch (PoolStoppedException) when (stopping)
            {
                Interlocked.Increment(ref stats.Stopped);
                return;
            }
            catch (Exception e)
            {
                stats.Unexpected.Enqueue($"caller {index} op {op}: {e}");
                continue;
            }

            if (lease is not { } got)
            {
                Interlocked.Increment(ref stats.Full);
                continue;
            }

            Interlocked.Increment(ref stats.Leases);
            await HoldAndReturnAsync(got, index, rng, stats, held);
        }
    }

    private static async Task HoldAndReturnAsync(Lease<FakeWorker> lease, int caller, Random rng, StressStats stats, ConcurrentDictionary<int, int> held)
    {
        int id = lease.WorkerId;
        var worker = lease.Worker;
        if (!held.TryAdd(id, caller))
        {
            stats.Unexpected.Enqueue($"caller {caller} received w{id}, which caller {held.GetValueOrDefault(id)} holds");
        }

        if (worker.IsStopped && !worker.Context.IsTerminated)
        {
            stats.Unexpected.Enqueue($"caller {caller} received w{id}, which was stopped");
        }

        // Hold it briefly: a few hops through the thread pool, sometimes a millisecond.
        for (int i = rng.Next(0, 3); i > 0; i--)
        {
            await Task.Yield();
        }

        int hold = rng.Next(100);
        if (hold < 1)
        {
            // Now and then a long hold, so that short checkout timeouts fire.
            await Task.Delay(rng.Next(10, 50));
        }
        else if (hold < 11)
        {
            await Task.Delay(1);
        }

        if (rng.Next(10) == 0)
        {
            lease.MarkBroken();
            Interlocked.Increment(ref stats.Broken);
        }

        // Released from the test's books before the pool's: after Dispose another caller may get it at once.
        if (!held.TryRemove(new KeyValuePair<int, int>(id, caller)))
        {
            stats.Unexpected.Enqueue($"caller {caller} lost track of w{id}");
        }

        if (rng.Next(2) == 0)
        {
            lease.Dispose();
        }
        else
        {
            await lease.DisposeAsync();
        }

        if (rng.Next(20) == 0)
        {
            // A stale disposal is a no-op.
            lease.Dispose();
        }
    }

    /// <summary>Kills random workers, idle or leased, and checks what every snapshot must satisfy.</summary>
    private static async Task ChaosAsync(Pool<FakeWorker> pool, FakeWorkerFactory factory, StressConfig config, StressStats stats, CancellationToken done)
    {
        var rng = new Random(config.Seed);
        while (!done.IsCancellationRequested)
        {
            var s = pool.GetStatus();
            int cap = s.Size + s.MaxOverflow;
            if (s.Live > cap || (s.Idle > 0 && s.Waiters > 0) || s.Workers.Count != s.Idle + s.Busy || s.State == PoolState.Backoff)
            {
                stats.Unexpected.Enqueue($"inconsistent snapshot: {s}");
            }

            if (s.Workers.Count > 0 && rng.Next(3) == 0)
            {
                int id = s.Workers[rng.Next(s.Workers.Count)].Id;
                if (factory.All.FirstOrDefault(w => w.Id == id) is { } victim)
                {
                    Interlocked.Increment(ref stats.Kills);
                    victim.Die(new InvalidOperationException("chaos"));
                }
            }

            try
            {
                await Task.Delay(1, done);
            }
            catch (OperationCanceledException)
            {
                return;
            }
        }
    }

    /// <summary>Starts fake workers; the next start, when asked, blocks synchronously (no await) until released.</summary>
    private sealed class BlockingStartFactory : IWorkerFactory<FakeWorker>
    {
        private int _blockNext;

        public FakeWorkerFactory Inner { get; } = new();

        public ManualResetEventSlim Entered { get; } = new();

        public ManualResetEventSlim Release { get; } = new();

        public void BlockNextStart() => Volatile.Write(ref _blockNext, 1);

        public ValueTask<FakeWorker> StartAsync(WorkerContext context, CancellationToken cancellationToken)
        {
            if (Interlocked.Exchange(ref _blockNext, 0) == 1)
            {
                Entered.Set();
                Release.Wait(TimeSpan.FromSeconds(10), CancellationToken.None);
            }

            return Inner.StartAsync(context, cancellationToken);
        }

        public ValueTask StopAsync(FakeWorker worker) => Inner.StopAsync(worker);
    }

    private sealed record StressConfig(int Seed, bool InfiniteTimeout, int TryPercent, int FailEvery);

    private sealed class StressStats
    {
        public long Leases;
        public long Timeouts;
        public long Canceled;
        public long Full;
        public long StartFailures;
        public long Broken;
        public long Kills;
        public long Stopped;

        public ConcurrentQueue<string> Unexpected { get; } = new();

        public override string ToString()
            => $"{Leases} leases, {Timeouts} timeouts, {Canceled} cancelled, {Full} full (try), {StartFailures} start failures, "
                + $"{Broken} broken, {Kills} kills, {Stopped} stopped, {Unexpected.Count} unexpected";
    }
}
