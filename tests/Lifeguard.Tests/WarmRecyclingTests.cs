using System.Runtime.CompilerServices;
using Lifeguard.Testing;
using Microsoft.Extensions.Time.Testing;

namespace Lifeguard.Tests;

/// <summary>A worker due to retire is replaced before it leaves, when the cap has room for both.</summary>
public sealed class WarmRecyclingTests
{
    [Fact]
    public async Task MaxUsesPerWorker_Reached_ReplacementStartsBeforeTheWorkerLeaves()
    {
        var factory = new FakeWorkerFactory();
        await using var pool = await StartDueAfterOneUseAsync(factory, size: 1, maxOverflow: 1);
        var first = factory.All.Single();
        factory.CloseGate();

        (await pool.CheckoutAsync()).Dispose(); // its one use: due, and its replacement starts first

        var status = pool.GetStatus().Consistent();
        Assert.Equal(1, status.Idle);
        Assert.Equal(1, status.Starting);
        Assert.Equal(1, status.Replacing);
        Assert.True(status.Workers.Single().RetirePending);
        Assert.False(first.IsStopped);

        // Still ready while its replacement starts: the next caller gets it at once.
        var vt = pool.CheckoutAsync();
        Assert.True(vt.IsCompletedSuccessfully);
        var lease = await vt;
        Assert.Same(first, lease.Worker);

        factory.OpenGate();
        await Scenario.Until(() => pool.GetStatus().Idle == 1, "the replacement joins");
        status = pool.GetStatus().Consistent();
        Assert.Equal(1, status.Busy);
        Assert.Equal(1, status.Replacing);
        Assert.Equal(0, status.Starting);
        Assert.Single(status.Workers.Select(w => w.Slot).Distinct()); // the pair shares its slot
        Assert.False(first.IsStopped); // leased: it leaves at its checkin

        lease.Dispose();

        await Scenario.Until(() => first.IsStopped, "the old worker leaves at its checkin");
        status = pool.GetStatus().Consistent();
        Assert.Equal(1, status.Idle);
        Assert.Equal(0, status.Replacing);
        Assert.Equal(1, status.TotalRestarts);
        Assert.Equal(0, status.Workers.Single().Slot);
        Assert.Equal(2, factory.Started);
    }

    [Fact]
    public async Task MaxUsesPerWorker_ReplacementUpWhileTheWorkerIsIdle_TheWorkerLeavesAtOnce()
    {
        var factory = new FakeWorkerFactory();
        await using var pool = await StartDueAfterOneUseAsync(factory, size: 2, maxOverflow: 2);
        var lease = await pool.CheckoutAsync();
        var due = lease.Worker;

        lease.Dispose();

        await Scenario.Until(() => due.IsStopped, "the worker leaves once its replacement is up");
        var status = pool.GetStatus().Consistent();
        Assert.Equal(2, status.Idle);
        Assert.Equal(0, status.Replacing);
        Assert.Equal(3, factory.Started);
        Assert.Equal(1, status.TotalRestarts);
        Assert.Equal(0, status.TotalDeaths);
        Assert.Equal([0, 1], status.Workers.Select(w => w.Slot).Order());
    }

    [Fact]
    public async Task SteadyLoad_EveryWorkerRecycledSeveralTimes_ReadyPlusBusyNeverBelowSizeAndNoCheckoutWaits()
    {
        const int size = 3;
        var factory = new FakeWorkerFactory();
        var options = Scenario.Options(new FakeTimeProvider(), size: size, maxOverflow: size);
        options.MaxUsesPerWorker = 2;
        await using var pool = await Pool.StartAsync(options, factory);
        var original = factory.All.ToList();
        var leases = new Queue<Lease<FakeWorker>>();
        for (int i = 0; i < size; i++)
        {
            leases.Enqueue(await pool.CheckoutAsync());
        }

        int waited = 0;
        int belowSize = 0;
        int maxReplacing = 0;
        string? lowest = null;

        async Task StepAsync()
        {
            leases.Dequeue().Dispose();
            var status = pool.GetStatus().Consistent();
            maxReplacing = Math.Max(maxReplacing, status.Replacing);
            if (status.Idle + status.Busy < size)
            {
                belowSize++;
                lowest ??= status.ToString();
            }

            // No checkout waits for a start: a worker due to retire is still ready while its replacement starts.
            var next = pool.CheckoutAsync(TimeSpan.Zero);
            if (!next.IsCompletedSuccessfully)
            {
                waited++;
                return; // it would have waited (for a start): fail below rather than wait for a start held back
            }

            leases.Enqueue(await next);
        }

        // Replacements held back: the workers due to retire keep serving.
        factory.CloseGate();
        for (int i = 0; i < 30 && waited == 0; i++)
        {
            await StepAsync();
        }

        Assert.Equal(0, waited);
        Assert.Equal(size, pool.GetStatus().Starting);
        factory.OpenGate();
        for (int i = 0; i < 300; i++)
        {
            await StepAsync();
            if (i % 10 == 0)
            {
                // Let replacements come up between bursts, so workers are recycled again and again.
                await Scenario.Until(() => pool.GetStatus().Starting == 0, "the replacements in flight are up");
            }
        }

        while (leases.Count > 0)
        {
            leases.Dequeue().Dispose();
        }

        await Scenario.Until(() => pool.GetStatus() is { Starting: 0, Replacing: 0 }, "the last replacements are up");
        Assert.Equal(0, waited);
        Assert.True(belowSize == 0, $"ready + busy fell below the size {belowSize} times, first: {lowest}");
        Assert.True(maxReplacing >= 2, $"at most {maxReplacing} replacement(s) ran alongside their workers");
        Assert.All(original, w => Assert.True(w.IsStopped));
        Assert.True(factory.Started >= size * 10, $"only {factory.Started} workers were started");
        var final = pool.GetStatus().Consistent();
        Assert.Equal(size, final.Idle);
        Assert.Equal(factory.Started - size, final.TotalRestarts);
        Assert.Equal(0, final.TotalDeaths);
        Assert.Equal(factory.Started - size, factory.Stops);
        Assert.Equal([0, 1, 2], final.Workers.Select(w => w.Slot).Order());
    }

    [Fact]
    public async Task MaxUsesPerWorker_ReachedWithNoRoomForAReplacementBesideIt_RetiresThenReplaces()
    {
        var factory = new FakeWorkerFactory();
        await using var pool = await StartDueAfterOneUseAsync(factory, size: 3, maxOverflow: 1);
        var a = await pool.CheckoutAsync();
        var b = await pool.CheckoutAsync();
        var c = await pool.CheckoutAsync();
        var (first, second) = (a.Worker, b.Worker);
        factory.CloseGate();

        a.Dispose(); // its replacement takes the one place left under the cap
        b.Dispose(); // no room for another beside it: retired, then replaced

        var status = pool.GetStatus().Consistent();
        Assert.Equal(1, status.Idle);
        Assert.Equal(1, status.Busy);
        Assert.Equal(2, status.Starting);
        Assert.Equal(1, status.Replacing);
        Assert.Equal(4, status.Live);
        await Scenario.Until(() => second.IsStopped, "the second worker retires first");
        Assert.False(first.IsStopped);
        factory.OpenGate();
        c.Dispose();
        await Scenario.Until(() => pool.GetStatus() is { Starting: 0, Replacing: 0, Idle: 3 }, "the pool settles");
        Assert.True(first.IsStopped);
        Assert.Equal([0, 1, 2], pool.GetStatus().Workers.Select(w => w.Slot).Order());
    }

    [Fact]
    public async Task MaxWorkerLifetime_Passed_ReplacementStartsBeforeTheWorkerLeaves()
    {
        var time = new FakeTimeProvider();
        var factory = new FakeWorkerFactory();
        var options = Scenario.Options(time, size: 1, maxOverflow: 1);
        options.MaxWorkerLifetime = TimeSpan.FromMinutes(10);
        options.MaxWorkerLifetimeVariance = 0;
        await using var pool = await Pool.StartAsync(options, factory);
        var first = factory.All.Single();
        time.Advance(TimeSpan.FromMinutes(10));
        factory.CloseGate();

        (await pool.CheckoutAsync()).Dispose();

        var status = pool.GetStatus().Consistent();
        Assert.Equal(1, status.Idle);
        Assert.Equal(1, status.Replacing);
        Assert.False(first.IsStopped);
        factory.OpenGate();
        await Scenario.Until(() => first.IsStopped, "the old worker leaves once its replacement is up");
        Assert.Equal(TimeSpan.Zero, pool.GetStatus().Consistent().Workers.Single().Age);
    }

    [Fact]
    public async Task Recycler_RetiresAWorker_ReplacementStartsBeforeTheWorkerLeaves()
    {
        var time = new FakeTimeProvider();
        var factory = new RecyclingFactory();
        await using var pool = await Pool.StartAsync(Scenario.Options(time, size: 2, maxOverflow: 1), factory);
        var lease = await pool.CheckoutAsync();
        var heavy = lease.Worker;
        factory.Retire.Add(heavy.Id);
        factory.CloseGate();

        lease.Dispose();

        var status = pool.GetStatus().Consistent();
        Assert.Equal(2, status.Idle);
        Assert.Equal(1, status.Replacing);
        Assert.False(heavy.IsStopped);
        factory.OpenGate();
        await Scenario.Until(() => heavy.IsStopped && pool.GetStatus().Idle == 2, "the heavy worker leaves once its replacement is up");
        Assert.Equal(0, pool.GetStatus().Replacing);
    }

    [Fact]
    public async Task Replacement_FailsToStart_TheWorkerStaysDueAndNoCallerFails()
    {
        var factory = new FakeWorkerFactory();
        await using var pool = await StartDueAfterOneUseAsync(factory, size: 1, maxOverflow: 1);
        var first = factory.All.Single();
        factory.FailStart = attempt => attempt == 2 ? new InvalidOperationException("no replacement") : null;

        (await pool.CheckoutAsync()).Dispose();

        await Scenario.Until(() => pool.GetStatus().TotalStartFailures == 1, "the replacement fails");
        var status = pool.GetStatus().Consistent();
        Assert.Equal(0, status.Replacing);
        Assert.True(status.Workers.Single().RetirePending);
        Assert.False(first.IsStopped);

        using (var again = await pool.CheckoutAsync())
        {
            Assert.Same(first, again.Worker); // still serving
        }

        await Scenario.Until(() => first.IsStopped, "the next checkin replaces it again, and this time it works");
        Assert.Equal(3, factory.StartAttempts);
    }

    [Fact]
    public async Task MaxWorkerLifetimeVariance_ShortensEachLifetimeByUpToTheFraction()
    {
        var (early, late) = await RetiredAtAsync(seed: 7, variance: 0.5);

        Assert.Empty(early); // at 49 % of the lifetime nobody is due: 50 % is the most it is shortened
        Assert.InRange(late.Count, 1, 39); // at 75 %, those shortened by more than a quarter
        var (early2, late2) = await RetiredAtAsync(seed: 7, variance: 0.5);
        Assert.Empty(early2);
        Assert.Equal(late, late2); // the same seed, the same draws

        var (_, none) = await RetiredAtAsync(seed: 7, variance: 0);
        Assert.Empty(none);
    }

    [Fact]
    public async Task RandomSeed_Same_GivesTheSameMaxUsesJitter()
    {
        async Task<List<int>> SequenceAsync(int seed)
        {
            var options = Scenario.Options(new FakeTimeProvider(), size: 1);
            options.MaxUsesPerWorker = 1;
            options.MaxUsesJitter = 5;
            options.RandomSeed = seed;
            await using var pool = await Pool.StartAsync(options, new FakeWorkerFactory());
            var ids = new List<int>();
            for (int i = 0; i < 100; i++)
            {
                using var lease = await pool.CheckoutAsync();
                ids.Add(lease.WorkerId);
            }

            return ids;
        }

        var first = await SequenceAsync(11);
        Assert.Equal(first, await SequenceAsync(11));
        Assert.True(first.Distinct().Count() > 10);
    }

    /// <summary>A pool whose workers are due to retire after one use.</summary>
    private static Task<Pool<FakeWorker>> StartDueAfterOneUseAsync(FakeWorkerFactory factory, int size, int maxOverflow, [CallerMemberName] string test = "")
    {
        var options = Scenario.Options(new FakeTimeProvider(), size, maxOverflow, test: test);
        options.MaxUsesPerWorker = 1;
        return Pool.StartAsync(options, factory);
    }

    /// <summary>
    /// Forty workers with a 100-minute lifetime: which of them are retired at their checkin at 49 minutes, and which
    /// at 75 minutes.
    /// </summary>
    private static async Task<(List<int> Early, List<int> Late)> RetiredAtAsync(int seed, double variance)
    {
        const int size = 40;
        var time = new FakeTimeProvider();
        var factory = new FakeWorkerFactory();
        var options = Scenario.Options(time, size: size);
        options.MaxWorkerLifetime = TimeSpan.FromMinutes(100);
        options.MaxWorkerLifetimeVariance = variance;
        options.RandomSeed = seed;
        await using var pool = await Pool.StartAsync(options, factory);
        var original = factory.All.ToList();

        async Task<List<int>> CycleAsync()
        {
            var leases = new List<Lease<FakeWorker>>();
            for (int i = 0; i < size; i++)
            {
                leases.Add(await pool.CheckoutAsync());
            }

            leases.ForEach(l => l.Dispose());
            await Scenario.Until(() => pool.GetStatus().Idle == size, "every retired worker is replaced");
            return [.. original.Where(w => w.IsStopped).Select(w => w.Id).Order()];
        }

        time.Advance(TimeSpan.FromMinutes(49));
        var early = await CycleAsync();
        time.Advance(TimeSpan.FromMinutes(26));
        var late = await CycleAsync();
        return (early, late);
    }

    private sealed class RecyclingFactory : FakeWorkerFactory, IWorkerRecycler<FakeWorker>
    {
        public HashSet<int> Retire { get; } = [];

        public bool ShouldRetire(FakeWorker worker)
        {
            lock (Retire)
            {
                return Retire.Contains(worker.Id);
            }
        }
    }
}
