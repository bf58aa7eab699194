using System.Collections.Concurrent;
using Lifeguard.Testing;
using Microsoft.Extensions.Time.Testing;

namespace Lifeguard.Tests;

/// <summary>Each worker's slot (<see cref="WorkerContext.Slot"/>): reserved before its start, kept by its replacements.</summary>
public sealed class SlotTests
{
    [Fact]
    public async Task Start_BaseWorkers_TakeSlotsZeroToSizeMinusOneBeforeTheFactoryRuns()
    {
        var factory = new SlotRecordingFactory();
        await using var pool = await Pool.StartAsync(Scenario.Options(new FakeTimeProvider(), size: 3, maxOverflow: 2), factory);

        Assert.Equal([0, 1, 2], factory.SlotsAtStart.Values.Order());
        var status = pool.GetStatus();
        Assert.All(status.Workers, w => Assert.Equal(factory.SlotsAtStart[w.Id], w.Slot));
    }

    [Fact]
    public async Task Overflow_NewWorkersTakeTheLowestFreeSlot_ADismissedOnesSlotIsReused()
    {
        var factory = new SlotRecordingFactory();
        await using var pool = await Pool.StartAsync(Scenario.Options(new FakeTimeProvider(), size: 2, maxOverflow: 2), factory);
        var leases = new List<Lease<FakeWorker>>();
        for (int i = 0; i < 4; i++)
        {
            leases.Add(await pool.CheckoutAsync());
        }

        Assert.Equal([0, 1, 2, 3], leases.Select(l => l.Worker.Context.Slot).Order());
        var third = leases.Single(l => l.Worker.Context.Slot == 2);
        third.Dispose(); // surplus: dismissed, its slot is free again
        leases.Remove(third);

        leases.Add(await pool.CheckoutAsync());

        Assert.Equal([0, 1, 2, 3], leases.Select(l => l.Worker.Context.Slot).Order());
        leases.ForEach(l => l.Dispose());
    }

    [Fact]
    public async Task Death_TheReplacementTakesTheDeadWorkersSlot()
    {
        var factory = new SlotRecordingFactory();
        await using var pool = await Pool.StartAsync(Scenario.Options(new FakeTimeProvider(), size: 4, maxOverflow: 1), factory);
        var victim = factory.Inner.All.Single(w => w.Context.Slot == 2);

        victim.Die();

        await Scenario.Until(() => factory.Inner.Started == 5 && pool.GetStatus().Idle == 4, "the dead worker is replaced");
        var replacement = factory.Inner.All.Last();
        Assert.Equal(2, factory.SlotsAtStart[replacement.Id]);
        Assert.Equal([0, 1, 2, 3], pool.GetStatus().Workers.Select(w => w.Slot).Order());
    }

    [Fact]
    public async Task Death_WithALowerSlotFree_TheReplacementStillTakesTheDeadWorkersSlot()
    {
        var factory = new SlotRecordingFactory();
        await using var pool = await Pool.StartAsync(Scenario.Options(new FakeTimeProvider(), size: 2, maxOverflow: 2), factory);
        var leases = new List<Lease<FakeWorker>>();
        for (int i = 0; i < 4; i++)
        {
            leases.Add(await pool.CheckoutAsync());
        }

        Lease<FakeWorker> InSlot(int slot) => leases.Single(l => l.Worker.Context.Slot == slot);
        var zero = InSlot(0);
        var two = InSlot(2);
        InSlot(1).Worker.Die(); // not replaced: the pool still has its two
        InSlot(3).Dispose(); // surplus: dismissed
        Assert.Equal(2, pool.GetStatus().Live);

        two.Worker.Die(); // now the pool is short: replaced, in slot 2 although slot 1 is free too

        await Scenario.Until(() => factory.Inner.Started == 5 && pool.GetStatus().Idle == 1, "the dead worker is replaced");
        Assert.Equal(2, factory.SlotsAtStart[factory.Inner.All.Last().Id]);
        Assert.Equal([0, 2], pool.GetStatus().Workers.Select(w => w.Slot).Order());
        zero.Dispose();
    }

    [Fact]
    public async Task RecycleAll_ReplacementsKeepTheirWorkersSlots()
    {
        var factory = new SlotRecordingFactory();
        await using var pool = await Pool.StartAsync(Scenario.Options(new FakeTimeProvider(), size: 3), factory);
        var before = pool.GetStatus().Workers.ToDictionary(w => w.Id, w => w.Slot);

        pool.RecycleAll();

        await Scenario.Until(() => factory.Inner.Started == 6 && pool.GetStatus().Idle == 3, "every worker is replaced");
        Assert.Equal([0, 1, 2], pool.GetStatus().Workers.Select(w => w.Slot).Order());
        Assert.Equal([0, 1, 2], factory.SlotsAtStart.Where(p => !before.ContainsKey(p.Key)).Select(p => p.Value).Order());
    }

    /// <summary>Records each worker's slot as the factory sees it when its start begins.</summary>
    private sealed class SlotRecordingFactory : IWorkerFactory<FakeWorker>
    {
        public FakeWorkerFactory Inner { get; } = new();

        public ConcurrentDictionary<int, int> SlotsAtStart { get; } = new();

        public ValueTask<FakeWorker> StartAsync(WorkerContext context, CancellationToken cancellationToken)
        {
            SlotsAtStart[context.WorkerId] = context.Slot;
            return Inner.StartAsync(context, cancellationToken);
        }

        public ValueTask StopAsync(FakeWorker worker) => Inner.StopAsync(worker);
    }
}
