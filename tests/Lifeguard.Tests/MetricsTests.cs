using System.Collections.Concurrent;
using System.Diagnostics.Metrics;
using Lifeguard.Testing;
using Microsoft.Extensions.Time.Testing;

namespace Lifeguard.Tests;

public sealed class MetricsTests
{
    private const string PoolTag = "lifeguard.pool.name";

    [Fact]
    public async Task LeaseDuration_WorkerDiedWhileLeased_StillRecorded()
    {
        var time = new FakeTimeProvider();
        var options = Scenario.Options(time, size: 1);
        using var metrics = new MetricCollector(options.Name);
        await using var pool = await Pool.StartAsync(options, new FakeWorkerFactory());

        var lease = await pool.CheckoutAsync();
        time.Advance(TimeSpan.FromSeconds(3));
        lease.Worker.Die(); // the call hung, then its worker was killed: the longest leases end this way
        lease.Dispose();

        Assert.Equal([3.0], Values(metrics, "lifeguard.pool.lease.duration"));
    }

    [Fact]
    public async Task Histograms_WaitAndHold_RecordSeconds()
    {
        var time = new FakeTimeProvider();
        var options = Scenario.Options(time, size: 1);
        using var metrics = new MetricCollector(options.Name);
        await using var pool = await Pool.StartAsync(options, new FakeWorkerFactory());

        var held = await pool.CheckoutAsync(); // an idle worker: no wait
        var waiting = pool.CheckoutAsync().AsTask();
        time.Advance(TimeSpan.FromSeconds(2));
        held.Dispose(); // held 2 s; the waiter waited 2 s
        var lease = await waiting;
        time.Advance(TimeSpan.FromMilliseconds(1500));
        lease.Dispose(); // held 1.5 s

        Assert.Equal([0.0, 2.0], Values(metrics, "lifeguard.pool.checkout.wait"));
        Assert.Equal([2.0, 1.5], Values(metrics, "lifeguard.pool.lease.duration"));
        AssertTagged(metrics, options.Name);
    }

    [Fact]
    public async Task Counters_CheckoutsTimeoutsRejections_Counted()
    {
        var time = new FakeTimeProvider();
        var options = Scenario.Options(time, size: 1);
        options.MaxWaiters = 1;
        using var metrics = new MetricCollector(options.Name);
        await using var pool = await Pool.StartAsync(options, new FakeWorkerFactory());

        for (int i = 0; i < 3; i++)
        {
            using var lease = await pool.CheckoutAsync();
        }

        using var held = await pool.CheckoutAsync();
        var timingOut = pool.CheckoutAsync().AsTask();
        await Assert.ThrowsAsync<PoolRejectedException>(async () => await pool.CheckoutAsync());
        time.Advance(options.CheckoutTimeout);
        await Assert.ThrowsAsync<PoolTimeoutException>(() => timingOut);
        await Assert.ThrowsAsync<PoolTimeoutException>(async () => await pool.CheckoutAsync(TimeSpan.Zero));

        Assert.Equal(4, metrics.Sum("lifeguard.pool.checkouts"));
        Assert.Equal(2, metrics.Sum("lifeguard.pool.checkout.timeouts"));
        Assert.Equal(1, metrics.Sum("lifeguard.pool.checkout.rejections"));
        AssertTagged(metrics, options.Name);
    }

    [Fact]
    public async Task WorkerCounters_StartsAndExits_CountedByReason()
    {
        var time = new FakeTimeProvider();
        var factory = new FakeWorkerFactory();
        var options = Scenario.Options(time, size: 2, maxOverflow: 1);
        options.MaxUsesPerWorker = 100;
        using var metrics = new MetricCollector(options.Name);
        var pool = await Pool.StartAsync(options, factory); // 2 starts
        await using (pool)
        {
            var a = await pool.CheckoutAsync();
            var b = await pool.CheckoutAsync();
            var c = await pool.CheckoutAsync(); // 1 start (overflow)
            c.Dispose(); // dismissed
            b.MarkBroken();
            b.Dispose(); // broken; 1 start (replacement)
            a.Worker.Die(); // died; 1 start (replacement)
            await Scenario.Until(() => factory.Started == 5 && pool.GetStatus().Idle == 2, "the replacements are idle");
            pool.RecycleAll(); // two retired, one at a time; 2 starts
            await Scenario.Until(() => factory.Started == 7 && pool.GetStatus().Idle == 2, "the recycled workers are replaced");
            a.Dispose();
        }

        // Stopping the pool stopped the last two.
        Assert.Equal(7, metrics.Sum("lifeguard.pool.worker.starts"));
        var exits = metrics.Measurements
            .Where(m => m.Instrument == "lifeguard.pool.worker.exits")
            .GroupBy(m => (string)m.Tags["lifeguard.worker.exit.reason"]!)
            .ToDictionary(g => g.Key, g => g.Sum(m => m.Value), StringComparer.Ordinal);
        Assert.Equal(
            new Dictionary<string, double>(StringComparer.Ordinal) { ["dismissed"] = 1, ["broken"] = 1, ["died"] = 1, ["retired"] = 2, ["stopped"] = 2 },
            exits);
        AssertTagged(metrics, options.Name);
    }

    [Fact]
    public async Task Gauges_Observed_ReportIdleBusyOverflowStartingAndWaiters()
    {
        var time = new FakeTimeProvider();
        var factory = new FakeWorkerFactory();
        var options = Scenario.Options(time, size: 1, maxOverflow: 1);
        using var metrics = new MetricCollector(options.Name);
        await using var pool = await Pool.StartAsync(options, factory);
        using var a = await pool.CheckoutAsync();
        factory.CloseGate();
        var b = pool.CheckoutAsync().AsTask();
        await Scenario.Until(() => factory.StartAttempts == 2, "the overflow start is in flight");
        var c = pool.CheckoutAsync().AsTask();

        metrics.RecordObservables();

        Assert.Equal(0, metrics.Last("lifeguard.pool.workers.idle"));
        Assert.Equal(1, metrics.Last("lifeguard.pool.workers.busy"));
        Assert.Equal(1, metrics.Last("lifeguard.pool.workers.starting"));
        Assert.Equal(1, metrics.Last("lifeguard.pool.workers.overflow"));
        Assert.Equal(1, metrics.Last("lifeguard.pool.waiters"));
        AssertTagged(metrics, options.Name);

        factory.OpenGate();
        (await b).Dispose(); // to the waiter
        (await c).Dispose(); // overflow: dismissed
        metrics.RecordObservables();
        Assert.Equal(0, metrics.Last("lifeguard.pool.workers.idle"));
        Assert.Equal(1, metrics.Last("lifeguard.pool.workers.busy"));
        Assert.Equal(0, metrics.Last("lifeguard.pool.workers.starting"));
        Assert.Equal(0, metrics.Last("lifeguard.pool.workers.overflow"));
        Assert.Equal(0, metrics.Last("lifeguard.pool.waiters"));
    }

    [Fact]
    public async Task Gauges_StoppedPool_NoLongerReported()
    {
        var time = new FakeTimeProvider();
        var options = Scenario.Options(time, size: 1);
        using var metrics = new MetricCollector(options.Name);
        var pool = await Pool.StartAsync(options, new FakeWorkerFactory());
        metrics.RecordObservables();
        Assert.Equal(1, metrics.Count("lifeguard.pool.workers.idle"));

        await pool.DisposeAsync();
        metrics.RecordObservables();

        Assert.Equal(1, metrics.Count("lifeguard.pool.workers.idle"));
    }

    [Fact]
    public async Task WorkerStartFailures_OverflowStartFails_Counted()
    {
        var time = new FakeTimeProvider();
        var factory = new FakeWorkerFactory();
        var options = Scenario.Options(time, size: 1, maxOverflow: 1);
        using var metrics = new MetricCollector(options.Name);
        await using var pool = await Pool.StartAsync(options, factory);
        using var a = await pool.CheckoutAsync();
        factory.FailStart = _ => new InvalidOperationException("cannot start");

        await Assert.ThrowsAsync<WorkerStartException>(async () => await pool.CheckoutAsync());

        Assert.Equal(1, metrics.Sum("lifeguard.pool.worker.start_failures"));
        Assert.Equal(1, metrics.Sum("lifeguard.pool.worker.starts"));
    }

    [Fact]
    public async Task Measurements_AnyInstrument_TaggedWithThePoolName()
    {
        var time = new FakeTimeProvider();
        var factory = new FakeWorkerFactory();
        var options = Scenario.Options(time, size: 1, maxOverflow: 1);
        options.MaxWaiters = 1;
        var untagged = new ConcurrentQueue<string>();
        var ours = new ConcurrentDictionary<string, int>(StringComparer.Ordinal);
        using var listener = new MeterListener();
        listener.InstrumentPublished = (instrument, l) =>
        {
            if (instrument.Meter.Name == "Lifeguard")
            {
                l.EnableMeasurementEvents(instrument);
            }
        };
        void OnMeasurement(Instrument instrument, ReadOnlySpan<KeyValuePair<string, object?>> tags)
        {
            foreach (var tag in tags)
            {
                if (tag.Key == PoolTag)
                {
                    if (Equals(tag.Value, options.Name))
                    {
                        ours.AddOrUpdate(instrument.Name, 1, (_, n) => n + 1);
                    }

                    return;
                }
            }

            untagged.Enqueue(instrument.Name);
        }

        listener.SetMeasurementEventCallback<long>((i, _, tags, _) => OnMeasurement(i, tags));
        listener.SetMeasurementEventCallback<int>((i, _, tags, _) => OnMeasurement(i, tags));
        listener.SetMeasurementEventCallback<double>((i, _, tags, _) => OnMeasurement(i, tags));
        listener.Start();

        await using (var pool = await Pool.StartAsync(options, factory))
        {
            var a = await pool.CheckoutAsync();
            var b = await pool.CheckoutAsync();
            var waiting = pool.CheckoutAsync().AsTask();
            await Assert.ThrowsAsync<PoolRejectedException>(async () => await pool.CheckoutAsync());
            time.Advance(options.CheckoutTimeout);
            await Assert.ThrowsAsync<PoolTimeoutException>(() => waiting);
            factory.FailStart = n => n == 3 ? new InvalidOperationException("cannot start") : null;
            b.Worker.Die();
            await Assert.ThrowsAsync<WorkerStartException>(async () => await pool.CheckoutAsync());
            await Scenario.Until(() => factory.Stops == 1, "the dead worker is stopped");
            listener.RecordObservableInstruments();
            a.Dispose();
        }

        Assert.Empty(untagged);
        string[] expected =
        [
            "lifeguard.pool.checkout.wait", "lifeguard.pool.lease.duration", "lifeguard.pool.checkouts",
            "lifeguard.pool.checkout.timeouts", "lifeguard.pool.checkout.rejections", "lifeguard.pool.worker.starts",
            "lifeguard.pool.worker.start_failures", "lifeguard.pool.worker.exits", "lifeguard.pool.workers.idle",
            "lifeguard.pool.workers.busy", "lifeguard.pool.workers.starting", "lifeguard.pool.workers.overflow",
            "lifeguard.pool.waiters",
        ];
        Assert.All(expected, name => Assert.True(ours.ContainsKey(name), $"no measurement of {name}"));
    }

    private static List<double> Values(MetricCollector metrics, string instrument)
        => metrics.Measurements.Where(m => m.Instrument == instrument).Select(m => m.Value).ToList();

    private static void AssertTagged(MetricCollector metrics, string pool)
    {
        Assert.NotEmpty(metrics.Measurements);
        Assert.All(metrics.Measurements, m => Assert.Equal(pool, m.Tags[PoolTag]));
    }
}
