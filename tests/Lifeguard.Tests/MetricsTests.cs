using System.Collections.Concurrent;
using System.Diagnostics.Metrics;
using Lifeguard.Testing;
using Microsoft.Extensions.Diagnostics.Metrics.Testing;
using Microsoft.Extensions.Time.Testing;

namespace Lifeguard.Tests;

public sealed class MetricsTests
{
    private const string PoolTag = "lifeguard.pool.name";

    [Fact]
    public async Task LeaseDuration_WorkerDiedWhileLeased_StillRecorded()
    {
        var time = new FakeTimeProvider();
        using var metrics = new TestMetrics();
        var options = Scenario.Options(time, size: 1, metrics: metrics);
        using var leaseDuration = metrics.Collect<double>("lifeguard.pool.lease.duration");
        await using var pool = await Pool.StartAsync(options, new FakeWorkerFactory());

        var lease = await pool.CheckoutAsync();
        time.Advance(TimeSpan.FromSeconds(3));
        lease.Worker.Die(); // the call hung, then its worker was killed: the longest leases end this way
        lease.Dispose();

        Assert.Equal([3.0], Values(leaseDuration));
    }

    [Fact]
    public async Task Histograms_WaitAndHold_RecordSeconds()
    {
        var time = new FakeTimeProvider();
        using var metrics = new TestMetrics();
        var options = Scenario.Options(time, size: 1, metrics: metrics);
        using var wait = metrics.Collect<double>("lifeguard.pool.checkout.wait");
        using var leaseDuration = metrics.Collect<double>("lifeguard.pool.lease.duration");
        await using var pool = await Pool.StartAsync(options, new FakeWorkerFactory());

        var held = await pool.CheckoutAsync(); // an idle worker: no wait
        var waiting = pool.CheckoutAsync().AsTask();
        time.Advance(TimeSpan.FromSeconds(2));
        held.Dispose(); // held 2 s; the waiter waited 2 s
        var lease = await waiting;
        time.Advance(TimeSpan.FromMilliseconds(1500));
        lease.Dispose(); // held 1.5 s

        Assert.Equal([0.0, 2.0], Values(wait));
        Assert.Equal([2.0, 1.5], Values(leaseDuration));
        AssertTagged(wait, options.Name);
        AssertTagged(leaseDuration, options.Name);
    }

    [Fact]
    public async Task Counters_CheckoutsTimeoutsRejections_Counted()
    {
        var time = new FakeTimeProvider();
        using var metrics = new TestMetrics();
        var options = Scenario.Options(time, size: 1, metrics: metrics);
        options.MaxWaiters = 1;
        using var checkouts = metrics.Collect<long>("lifeguard.pool.checkouts");
        using var timeouts = metrics.Collect<long>("lifeguard.pool.checkout.timeouts");
        using var rejections = metrics.Collect<long>("lifeguard.pool.checkout.rejections");
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

        Assert.Equal(4, checkouts.GetMeasurementSnapshot().EvaluateAsCounter());
        Assert.Equal(2, timeouts.GetMeasurementSnapshot().EvaluateAsCounter());
        Assert.Equal(1, rejections.GetMeasurementSnapshot().EvaluateAsCounter());
        AssertTagged(checkouts, options.Name);
        AssertTagged(timeouts, options.Name);
        AssertTagged(rejections, options.Name);
    }

    [Fact]
    public async Task WorkerCounters_StartsAndExits_CountedByReason()
    {
        var time = new FakeTimeProvider();
        var factory = new FakeWorkerFactory();
        using var metrics = new TestMetrics();
        var options = Scenario.Options(time, size: 2, maxOverflow: 1, metrics: metrics);
        options.MaxUsesPerWorker = 100;
        using var starts = metrics.Collect<long>("lifeguard.pool.worker.starts");
        using var exitCounter = metrics.Collect<long>("lifeguard.pool.worker.exits");
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
        Assert.Equal(7, starts.GetMeasurementSnapshot().EvaluateAsCounter());
        var exits = exitCounter.GetMeasurementSnapshot()
            .GroupBy(m => (string)m.Tags["lifeguard.worker.exit.reason"]!)
            .ToDictionary(g => g.Key, g => g.Sum(m => m.Value), StringComparer.Ordinal);
        Assert.Equal(
            new Dictionary<string, long>(StringComparer.Ordinal) { ["dismissed"] = 1, ["broken"] = 1, ["died"] = 1, ["retired"] = 2, ["stopped"] = 2 },
            exits);
        AssertTagged(starts, options.Name);
        AssertTagged(exitCounter, options.Name);
    }

    [Fact]
    public async Task Gauges_Observed_ReportIdleBusyOverflowStartingAndWaiters()
    {
        var time = new FakeTimeProvider();
        var factory = new FakeWorkerFactory();
        using var metrics = new TestMetrics();
        var options = Scenario.Options(time, size: 1, maxOverflow: 1, metrics: metrics);
        using var gauges = new Gauges(metrics);
        await using var pool = await Pool.StartAsync(options, factory);
        using var a = await pool.CheckoutAsync();
        factory.CloseGate();
        var b = pool.CheckoutAsync().AsTask();
        await Scenario.Until(() => factory.StartAttempts == 2, "the overflow start is in flight");
        var c = pool.CheckoutAsync().AsTask();

        gauges.Record();

        Assert.Equal((0, 1, 1, 1, 2), gauges.Last()); // b awaits its overflow start, c the next worker: two waiters
        Assert.All(gauges.All, g => AssertTagged(g, options.Name));

        factory.OpenGate();
        (await b).Dispose(); // to the waiter
        (await c).Dispose(); // overflow: dismissed
        gauges.Record();
        Assert.Equal((0, 1, 0, 0, 0), gauges.Last());
    }

    [Fact]
    public async Task Gauges_StoppedPool_NoLongerReported()
    {
        var time = new FakeTimeProvider();
        using var metrics = new TestMetrics();
        var options = Scenario.Options(time, size: 1, metrics: metrics);
        using var idle = metrics.Collect<int>("lifeguard.pool.workers.idle");
        var pool = await Pool.StartAsync(options, new FakeWorkerFactory());
        idle.RecordObservableInstruments();
        Assert.Single(idle.GetMeasurementSnapshot());

        await pool.DisposeAsync();
        idle.RecordObservableInstruments();

        Assert.Single(idle.GetMeasurementSnapshot());
    }

    [Fact]
    public async Task WorkerStartFailures_OverflowStartFails_Counted()
    {
        var time = new FakeTimeProvider();
        var factory = new FakeWorkerFactory();
        using var metrics = new TestMetrics();
        var options = Scenario.Options(time, size: 1, maxOverflow: 1, metrics: metrics);
        using var failures = metrics.Collect<long>("lifeguard.pool.worker.start_failures");
        using var starts = metrics.Collect<long>("lifeguard.pool.worker.starts");
        await using var pool = await Pool.StartAsync(options, factory);
        using var a = await pool.CheckoutAsync();
        factory.FailStart = _ => new InvalidOperationException("cannot start");

        await Assert.ThrowsAsync<WorkerStartException>(async () => await pool.CheckoutAsync());

        Assert.Equal(1, failures.GetMeasurementSnapshot().EvaluateAsCounter());
        Assert.Equal(1, starts.GetMeasurementSnapshot().EvaluateAsCounter());
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

    private static List<double> Values(MetricCollector<double> collector)
        => collector.GetMeasurementSnapshot().Select(m => m.Value).ToList();

    private static void AssertTagged<T>(MetricCollector<T> collector, string pool)
        where T : struct
    {
        var measurements = collector.GetMeasurementSnapshot();
        Assert.NotEmpty(measurements);
        Assert.All(measurements, m => Assert.Equal(pool, m.Tags[PoolTag]));
    }

    /// <summary>The pool's five worker and waiter gauges, read together.</summary>
    private sealed class Gauges(TestMetrics metrics) : IDisposable
    {
        private readonly MetricCollector<int> _idle = metrics.Collect<int>("lifeguard.pool.workers.idle");
        private readonly MetricCollector<int> _busy = metrics.Collect<int>("lifeguard.pool.workers.busy");
        private readonly MetricCollector<int> _starting = metrics.Collect<int>("lifeguard.pool.workers.starting");
        private readonly MetricCollector<int> _overflow = metrics.Collect<int>("lifeguard.pool.workers.overflow");
        private readonly MetricCollector<int> _waiters = metrics.Collect<int>("lifeguard.pool.waiters");

        public IEnumerable<MetricCollector<int>> All => [_idle, _busy, _starting, _overflow, _waiters];

        public void Record()
        {
            foreach (var collector in All)
            {
                collector.RecordObservableInstruments();
            }
        }

        public (int Idle, int Busy, int Starting, int Overflow, int Waiters) Last()
            => (Value(_idle), Value(_busy), Value(_starting), Value(_overflow), Value(_waiters));

        public void Dispose()
        {
            foreach (var collector in All)
            {
                collector.Dispose();
            }
        }

        private static int Value(MetricCollector<int> collector)
            => Assert.IsType<CollectedMeasurement<int>>(collector.LastMeasurement).Value;
    }
}
