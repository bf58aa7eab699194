using System.Diagnostics;
using Microsoft.Extensions.Logging;

namespace Lifeguard;

/// <summary>
/// The one owner of a pool's state: idle workers, busy count, starts in flight, the waiter queue and supervision.
/// Every transition (checkout, checkin, worker died, waiter timed out or cancelled, worker started, resize, stop)
/// runs under <see cref="_lock"/>, never awaits and never calls user code there; what it decides to do outside
/// (complete waiters, start or stop workers, log) it records in an <see cref="Effects"/> value that the caller runs
/// after releasing the lock. Thread-safe.
/// </summary>
/// <remarks>
/// Invariants, asserted in debug builds after every transition:
/// <list type="number">
/// <item>live = idle + busy + starting ≤ size + maxOverflow, except after a shrink until the surplus is returned;</item>
/// <item>a slot is in exactly one place: the idle list (Idle), leased (Busy), in hand (Detached), or Gone;
///   the workers list holds exactly the Idle and Busy slots;</item>
/// <item>no caller waits while a worker is idle: waiters &gt; 0 ⇒ idle = 0;</item>
/// <item>a waiter is completed at most once: only the transition that unlinks it from the queue completes it;</item>
/// <item>every started worker is eventually in the pool or stopped exactly once (<see cref="WorkerSlot{TWorker}.TryClaimStop"/>);</item>
/// <item>background starts are a subset of starts: 0 ≤ bgStarting ≤ starting;</item>
/// <item>warm pairs = the listed workers whose replacement is starting or has joined (<see cref="SuccessorState"/>);
///   each pair counts twice against the cap but once against the size.</item>
/// </list>
/// Overflow is a count, as in poolboy: overflow = max(0, live − size).
/// </remarks>
internal sealed partial class PoolCore<TWorker> : IPoolGauges
    where TWorker : class
{
    private readonly SpinGate _lock = new();
    private readonly IWorkerFactory<TWorker> _factory;
    private readonly IWorkerValidator<TWorker>? _validator;
    private readonly IWorkerRecycler<TWorker>? _recycler;
    private readonly IWorkerKiller<TWorker>? _killer;
    private readonly PoolEventHub _events;
    private readonly PoolOptions _options;
    private readonly TimeProvider _time;
    private readonly ILogger _logger;
    private readonly LifeguardMetrics _metrics;
    private readonly KeyValuePair<string, object?> _poolTag;
    private readonly CancellationTokenSource _stopCts = new();
    private readonly Action<WorkerContext, Exception?> _onTerminated;
    private readonly bool _optionsNeedTimestamps;
    private readonly bool _leakDetection;
    private readonly bool _plainCheckout; // no validator and no leak detection: an idle worker is leased at once

    // With a validator and IdleCheckAfter: the idle time (clock ticks) beyond which a checkout checks its worker, in
    // IdleCheckTimeout; -1 otherwise (a validator then runs on every checkout, unbounded, as it always did).
    private readonly long _idleCheckTicks = -1;

    // The state every transition shares; guarded by _lock. Each partial file keeps the rest of its state itself.
    private readonly List<WorkerSlot<TWorker>> _idle = [];
    private readonly List<WorkerSlot<TWorker>> _workers = [];
    private readonly WaiterQueue<TWorker> _waiters;
    private readonly PoolCounters _counters = new();
    private readonly SlotNumbers _slotNumbers = new();
    private readonly Random _random; // guarded by _randomLock
    private readonly Lock _randomLock = new();
    private int _busy;
    private int _starting;
    private int _bgStarting;
    private int _size;
    private int _maxOverflow;
    private bool _stopping;
    private int _recycleEpoch;
    private int _warmPairs;
    private int _generation = 1;
    private int _stopsInFlight;

    public PoolCore(PoolOptions options, IWorkerFactory<TWorker> factory)
    {
        _options = options;
        _factory = factory;
        _validator = factory as IWorkerValidator<TWorker>;
        _leakDetection = options.LeakDetectionThreshold is not null;
        _plainCheckout = _validator is null && !_leakDetection;
        _recycler = factory as IWorkerRecycler<TWorker>;
        _killer = factory as IWorkerKiller<TWorker>;
        _time = options.TimeProvider;
        if (_validator is not null && options.IdleCheckAfter is { } idleCheckAfter)
        {
            // Idle checks need to know since when each worker is idle: checkins then read the clock. Without a
            // validator there is nothing to check with, and the fast paths stay as they are.
            _idleCheckTicks = ToTimestampTicks(idleCheckAfter);
        }

        _optionsNeedTimestamps = options.MaxWorkerLifetime is not null || options.OverflowIdleTimeout > TimeSpan.Zero || _leakDetection
            || _idleCheckTicks >= 0;
        _random = options.RandomSeed is { } seed ? new Random(seed) : new Random();
        _events = new PoolEventHub(options.Name, _time);
        _logger = (ILogger?)options.LoggerFactory?.CreateLogger("Lifeguard.Pool") ?? Microsoft.Extensions.Logging.Abstractions.NullLogger.Instance;
        _size = options.Size;
        _maxOverflow = options.MaxOverflow;
        _waiters = new WaiterQueue<TWorker>(this);
        _restartWindow = new RestartWindow(
            options.MaxRestarts, ToTimestampTicks(options.RestartWindow), options.BackoffInitialDelay, options.BackoffMaxDelay);
        _poolTag = new(LifeguardMetrics.PoolNameTag, options.Name);
        _onTerminated = OnWorkerTerminated;
        _metrics = LifeguardMetrics.Get(options.MeterFactory);
        _metrics.Register(this);
        _loadWindow = new LoadWindow(options.SizingWindow, _time.TimestampFrequency);
        _sizingTimer = CreateTimer(static s => ((PoolCore<TWorker>)s!).OnSizingTick(), Timeout.InfiniteTimeSpan, Timeout.InfiniteTimeSpan);
        if (options.LeakDetectionThreshold is { } threshold)
        {
            var period = TimeSpan.FromTicks(Math.Clamp(threshold.Ticks / 4, TimeSpan.TicksPerMillisecond * 10, MaxTimerDelay.Ticks));
            _leakTimer = CreateTimer(static s => ((PoolCore<TWorker>)s!).OnLeakTimer(), period, period);
        }
    }

    public string Name => _options.Name;

    public PoolOptions Options => _options;

    // Read without the lock by metrics gauges: torn or slightly stale values are fine there.
    public int IdleCount => _idle.Count;

    public int BusyCount => Volatile.Read(ref _busy);

    public int StartingCount => Volatile.Read(ref _starting);

    public int WaiterCount => _waiters.Count;

    public int OverflowCount => Math.Max(0, IdleCount + BusyCount + StartingCount - Volatile.Read(ref _size));

    private int LiveLocked => _idle.Count + _busy + _starting;

    /// <summary>The live workers less the extra one of each warm pair: what is measured against the size.</summary>
    private int EffectiveLiveLocked => LiveLocked - _warmPairs;

    private int CapLocked => _size + _maxOverflow;

    /// <summary>
    /// Checkouts so far: every checkout adds one use to its worker, so the count is derived, not kept, and the
    /// checkout path bumps no counter of its own.
    /// </summary>
    private long CheckoutsLocked
    {
        get
        {
            long checkouts = _counters.DepartedUses;
            foreach (var slot in _workers)
            {
                checkouts += slot.Uses;
            }

            return checkouts;
        }
    }

    private bool NeedsTimestamps => _optionsNeedTimestamps || _metrics.LeaseDuration.Enabled;

    [Conditional("DEBUG")]
    private void AssertInvariantsLocked()
    {
        Debug.Assert(_busy >= 0 && _starting >= 0, "counts are never negative");
        Debug.Assert(_bgStarting >= 0 && _bgStarting <= _starting, "background starts are a subset of starts");
        Debug.Assert(_waiters.Count == 0 || _idle.Count == 0, "no caller waits while a worker is idle");
        Debug.Assert(_workers.Count == _idle.Count + _busy, "the workers list holds exactly the idle and busy slots");
        int idle = 0;
        int pairs = 0;
        foreach (var slot in _workers)
        {
            Debug.Assert(slot.State is SlotState.Idle or SlotState.Busy, "a listed worker is idle or busy");
            idle += slot.State == SlotState.Idle ? 1 : 0;
            pairs += slot.Successor == SuccessorState.None ? 0 : 1;
        }

        Debug.Assert(idle == _idle.Count, "a worker is never both idle and leased");
        Debug.Assert(pairs == _warmPairs, "the warm pairs are the listed workers with a replacement on the way or joined");
        int waiters = 0;
        for (var w = _waiters.Head; w is not null; w = w.Next)
        {
            Debug.Assert(w.Queued, "a queued waiter is marked queued");
            waiters++;
        }

        Debug.Assert(waiters == _waiters.Count, "the waiter count matches the queue");
    }
}
