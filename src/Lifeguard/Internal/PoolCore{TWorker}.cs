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
/// <item>background starts are a subset of starts: 0 ≤ bgStarting ≤ starting.</item>
/// </list>
/// Overflow is a count, as in poolboy: overflow = max(0, live − size).
/// </remarks>
internal sealed partial class PoolCore<TWorker> : IPoolGauges
    where TWorker : class
{
    private const int MaxPooledWaiters = 256;
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

    // Guarded by _lock.
    private readonly List<WorkerSlot<TWorker>> _idle = [];
    private readonly List<WorkerSlot<TWorker>> _workers = [];
    private readonly Queue<long> _failureTimes = new();
    private readonly Stack<Waiter<TWorker>> _freeWaiters = new();
    private Waiter<TWorker>? _returnedWaiters; // lock-free: pushed by OnWaiterConsumed, taken whole under the lock
    private Waiter<TWorker>? _head;
    private Waiter<TWorker>? _tail;
    private int _waiterCount;
    private int _busy;
    private int _starting;
    private int _bgStarting;
    private int _size;
    private int _maxOverflow;
    private bool _stopping;
    private bool _backoff;
    private bool _probeScheduled;
    private bool _cooldownScheduled;
    private TimeSpan _backoffDelay;
    private Exception? _lastFailure;
    private int _recycleEpoch;
    private int _pending;
    private TaskCompletionSource? _pendingDone;
    private TaskCompletionSource? _drained;
    private Task? _stopTask;
    private long _departedUses; // uses of workers no longer listed: with the listed workers' uses, the checkout count
    private long _timeouts;
    private long _rejections;
    private long _starts;
    private long _restarts;
    private int _replacementsOwed; // workers gone for a reason other than dismissal, not yet replaced
    private int _stopsInFlight;
    private long _deaths;
    private long _startFailures;
    private ITimer? _cooldownTimer;
    private ITimer? _backoffTimer;
    private readonly ITimer? _leakTimer;
    private readonly ITimer _sizingTimer;
    private readonly (long At, long Checkouts, long BusySum, long BusySamples)[] _load;
    private int _loadCount;
    private int _loadNext;
    private long _busySum;
    private long _busySamples;
    private int _sizingTicks;
    private bool _sizingArmed;

    private int _nextWorkerId;

    public PoolCore(PoolOptions options, IWorkerFactory<TWorker> factory)
    {
        _options = options;
        _factory = factory;
        _validator = factory as IWorkerValidator<TWorker>;
        _leakDetection = options.LeakDetectionThreshold is not null;
        _plainCheckout = _validator is null && !_leakDetection;
        _optionsNeedTimestamps = options.MaxWorkerLifetime is not null || options.OverflowIdleTimeout > TimeSpan.Zero || _leakDetection;
        _recycler = factory as IWorkerRecycler<TWorker>;
        _killer = factory as IWorkerKiller<TWorker>;
        _time = options.TimeProvider;
        _events = new PoolEventHub(options.Name, _time);
        _logger = (ILogger?)options.LoggerFactory?.CreateLogger("Lifeguard.Pool") ?? Microsoft.Extensions.Logging.Abstractions.NullLogger.Instance;
        _size = options.Size;
        _maxOverflow = options.MaxOverflow;
        _backoffDelay = options.BackoffInitialDelay;
        _poolTag = new(LifeguardMetrics.PoolNameTag, options.Name);
        _onTerminated = OnWorkerTerminated;
        _metrics = LifeguardMetrics.Get(options.MeterFactory);
        _metrics.Register(this);
        // One snapshot of the load counters a second, for a window of SizingWindow (plus the snapshot that opens it).
        _load = new (long, long, long, long)[(int)Math.Ceiling(options.SizingWindow.TotalSeconds) + 1];
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

    public int WaiterCount => Volatile.Read(ref _waiterCount);

    public int OverflowCount => Math.Max(0, IdleCount + BusyCount + StartingCount - Volatile.Read(ref _size));

    private int LiveLocked => _idle.Count + _busy + _starting;

    private int CapLocked => _size + _maxOverflow;

    /// <summary>
    /// Checkouts so far: every checkout adds one use to its worker, so the count is derived, not kept, and the
    /// checkout path bumps no counter of its own.
    /// </summary>
    private long CheckoutsLocked
    {
        get
        {
            long checkouts = _departedUses;
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
        Debug.Assert(_waiterCount == 0 || _idle.Count == 0, "no caller waits while a worker is idle");
        Debug.Assert(_workers.Count == _idle.Count + _busy, "the workers list holds exactly the idle and busy slots");
        int idle = 0;
        foreach (var slot in _workers)
        {
            Debug.Assert(slot.State is SlotState.Idle or SlotState.Busy, "a listed worker is idle or busy");
            idle += slot.State == SlotState.Idle ? 1 : 0;
        }

        Debug.Assert(idle == _idle.Count, "a worker is never both idle and leased");
        int waiters = 0;
        for (var w = _head; w is not null; w = w.Next)
        {
            Debug.Assert(w.Queued, "a queued waiter is marked queued");
            waiters++;
        }

        Debug.Assert(waiters == _waiterCount, "the waiter count matches the queue");
    }
}
