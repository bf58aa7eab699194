using System.Diagnostics.Metrics;
using System.Runtime.CompilerServices;

namespace Lifeguard;

/// <summary>
/// The instruments of one <c>Lifeguard</c> meter, shared by every pool that uses that meter; observable gauges read
/// the live pools registered here. Thread-safe.
/// </summary>
internal sealed class LifeguardMetrics
{
    public const string MeterName = "Lifeguard";
    public const string PoolNameTag = "lifeguard.pool.name";
    public const string ReasonTag = "lifeguard.worker.exit.reason";
    public const string GenerationTag = "lifeguard.worker.generation";

    private static readonly ConditionalWeakTable<Meter, LifeguardMetrics> ByMeter = new();
    private static readonly Lazy<Meter> DefaultMeter = new(() => new Meter(MeterName, typeof(LifeguardMetrics).Assembly.GetName().Version?.ToString()));

    private readonly Lock _lock = new();
    private readonly List<IPoolGauges> _pools = [];

    private LifeguardMetrics(Meter meter)
    {
        CheckoutWait = meter.CreateHistogram<double>(
            "lifeguard.pool.checkout.wait", "s", "Time from the start of a checkout to receiving a worker.");
        LeaseDuration = meter.CreateHistogram<double>(
            "lifeguard.pool.lease.duration", "s", "Time a worker was held, from checkout to checkin.");
        Checkouts = meter.CreateCounter<long>("lifeguard.pool.checkouts", "{checkout}", "Successful checkouts.");
        Timeouts = meter.CreateCounter<long>("lifeguard.pool.checkout.timeouts", "{checkout}", "Checkouts that timed out.");
        Rejections = meter.CreateCounter<long>(
            "lifeguard.pool.checkout.rejections", "{checkout}", "Checkouts rejected because MaxWaiters callers waited.");
        WorkerStarts = meter.CreateCounter<long>("lifeguard.pool.worker.starts", "{worker}", "Workers started.");
        WorkerStartFailures = meter.CreateCounter<long>(
            "lifeguard.pool.worker.start_failures", "{worker}", "Worker starts that failed.");
        WorkerExits = meter.CreateCounter<long>(
            "lifeguard.pool.worker.exits", "{worker}", "Workers stopped, by reason (died, broken, retired, dismissed, abandoned, stopped).");
        meter.CreateObservableGauge("lifeguard.pool.workers.idle", () => Observe(static p => p.IdleCount), "{worker}", "Idle workers.");
        meter.CreateObservableGauge("lifeguard.pool.workers.busy", () => Observe(static p => p.BusyCount), "{worker}", "Checked-out workers.");
        meter.CreateObservableGauge("lifeguard.pool.workers.starting", () => Observe(static p => p.StartingCount), "{worker}", "Workers being started.");
        meter.CreateObservableGauge("lifeguard.pool.workers.overflow", () => Observe(static p => p.OverflowCount), "{worker}", "Live workers beyond Size.");
        meter.CreateObservableGauge("lifeguard.pool.generation", () => Observe(static p => p.Generation), "{generation}", "The pool's code generation: 1 at its start, one more for each reload.");
        meter.CreateObservableGauge("lifeguard.pool.workers.by_generation", ObserveByGeneration, "{worker}", "Idle and busy workers by the code generation they were started in (lifeguard.worker.generation).");
        meter.CreateObservableGauge("lifeguard.pool.waiters", () => Observe(static p => p.WaiterCount), "{caller}", "Callers queued for a worker.");
        meter.CreateObservableGauge("lifeguard.pool.arrival_rate", () => ObserveSizing(static s => s.ArrivalRate), "{checkout}/s", "Checkouts per second over the sizing window (λ).");
        meter.CreateObservableGauge("lifeguard.pool.lease.mean", () => ObserveSizing(static s => s.MeanLeaseTime.TotalSeconds), "s", "Mean lease time over the sizing window (W = L / λ).");
        meter.CreateObservableGauge("lifeguard.pool.advice.size", () => ObserveSizing(static s => s.Advice.Size), "{worker}", "Size advised by Little's Law for the measured load.");
        meter.CreateObservableGauge("lifeguard.pool.advice.max_overflow", () => ObserveSizing(static s => s.Advice.MaxOverflow), "{worker}", "MaxOverflow advised for the measured peak.");
    }

    public Histogram<double> CheckoutWait { get; }

    public Histogram<double> LeaseDuration { get; }

    public Counter<long> Checkouts { get; }

    public Counter<long> Timeouts { get; }

    public Counter<long> Rejections { get; }

    public Counter<long> WorkerStarts { get; }

    public Counter<long> WorkerStartFailures { get; }

    public Counter<long> WorkerExits { get; }

    public static LifeguardMetrics Get(IMeterFactory? factory)
    {
        var meter = factory?.Create(new MeterOptions(MeterName)) ?? DefaultMeter.Value;
        return ByMeter.GetValue(meter, static m => new LifeguardMetrics(m));
    }

    public void Register(IPoolGauges pool)
    {
        lock (_lock)
        {
            _pools.Add(pool);
        }
    }

    public void Unregister(IPoolGauges pool)
    {
        lock (_lock)
        {
            _pools.Remove(pool);
        }
    }

    private List<Measurement<double>> ObserveSizing(Func<SizingObservation, double> read)
    {
        IPoolGauges[] pools;
        lock (_lock)
        {
            pools = [.. _pools];
        }

        // Outside the registry's lock: each observation takes its pool's own lock.
        var result = new List<Measurement<double>>(pools.Length);
        foreach (var pool in pools)
        {
            if (pool.Sizing is { } sizing)
            {
                result.Add(new Measurement<double>(read(sizing), new KeyValuePair<string, object?>(PoolNameTag, pool.Name)));
            }
        }

        return result;
    }

    private List<Measurement<int>> ObserveByGeneration()
    {
        IPoolGauges[] pools;
        lock (_lock)
        {
            pools = [.. _pools];
        }

        // Outside the registry's lock: each observation takes its pool's own lock.
        var result = new List<Measurement<int>>(pools.Length);
        foreach (var pool in pools)
        {
            foreach (var (generation, workers) in pool.WorkersByGeneration)
            {
                result.Add(new Measurement<int>(
                    workers, new KeyValuePair<string, object?>(PoolNameTag, pool.Name), new KeyValuePair<string, object?>(GenerationTag, generation)));
            }
        }

        return result;
    }

    private List<Measurement<int>> Observe(Func<IPoolGauges, int> read)
    {
        lock (_lock)
        {
            var result = new List<Measurement<int>>(_pools.Count);
            foreach (var pool in _pools)
            {
                result.Add(new Measurement<int>(read(pool), new KeyValuePair<string, object?>(PoolNameTag, pool.Name)));
            }

            return result;
        }
    }
}

/// <summary>What the observable gauges read from a pool, without its lock. Implementations are thread-safe.</summary>
internal interface IPoolGauges
{
    string Name { get; }

    int IdleCount { get; }

    int BusyCount { get; }

    int StartingCount { get; }

    int OverflowCount { get; }

    int WaiterCount { get; }

    int Generation { get; }

    IReadOnlyList<(int Generation, int Workers)> WorkersByGeneration { get; }

    SizingObservation? Sizing { get; }
}
