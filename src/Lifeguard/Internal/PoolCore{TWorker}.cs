using System.Diagnostics;
using System.Runtime.CompilerServices;
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
    private readonly Lock _lock = new();
    private readonly IWorkerFactory<TWorker> _factory;
    private readonly IWorkerValidator<TWorker>? _validator;
    private readonly PoolOptions _options;
    private readonly TimeProvider _time;
    private readonly ILogger _logger;
    private readonly LifeguardMetrics _metrics;
    private readonly KeyValuePair<string, object?> _poolTag;
    private readonly CancellationTokenSource _stopCts = new();
    private readonly Action<WorkerContext, Exception?> _onTerminated;

    // Guarded by _lock.
    private readonly List<WorkerSlot<TWorker>> _idle = [];
    private readonly List<WorkerSlot<TWorker>> _workers = [];
    private readonly Queue<long> _failureTimes = new();
    private readonly Stack<Waiter<TWorker>> _freeWaiters = new();
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
    private long _checkouts;
    private long _timeouts;
    private long _rejections;
    private long _restarts;
    private long _deaths;
    private long _startFailures;
    private ITimer? _cooldownTimer;
    private ITimer? _backoffTimer;
    private readonly ITimer? _leakTimer;

    private int _nextWorkerId;

    public PoolCore(PoolOptions options, IWorkerFactory<TWorker> factory)
    {
        _options = options;
        _factory = factory;
        _validator = factory as IWorkerValidator<TWorker>;
        _time = options.TimeProvider;
        _logger = (ILogger?)options.LoggerFactory?.CreateLogger("Lifeguard.Pool") ?? Microsoft.Extensions.Logging.Abstractions.NullLogger.Instance;
        _size = options.Size;
        _maxOverflow = options.MaxOverflow;
        _backoffDelay = options.BackoffInitialDelay;
        _poolTag = new(LifeguardMetrics.PoolNameTag, options.Name);
        _onTerminated = OnWorkerTerminated;
        _metrics = LifeguardMetrics.Get(options.MeterFactory);
        _metrics.Register(this);
        if (options.LeakDetectionThreshold is { } threshold)
        {
            var period = TimeSpan.FromTicks(Math.Max(threshold.Ticks / 4, TimeSpan.TicksPerMillisecond * 10));
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

    private bool NeedsTimestamps => _options.MaxWorkerLifetime is not null
        || _options.OverflowIdleTimeout > TimeSpan.Zero
        || _options.LeakDetectionThreshold is not null
        || _metrics.LeaseDuration.Enabled;

    // ---------------------------------------------------------------- checkout

    /// <summary>The fast path: an idle worker, no validation, no allocation.</summary>
    public bool TryCheckoutIdle(out Lease<TWorker> lease)
    {
        long now = NeedsTimestamps ? _time.GetTimestamp() : 0;
        lock (_lock)
        {
            if (_idle.Count == 0 || _stopping || _validator is not null)
            {
                lease = default;
                return false;
            }

            lease = MarkBusyLocked(TakeIdleLocked(), now, stack: null);
            AssertInvariantsLocked();
        }

        if (_metrics.Checkouts.Enabled)
        {
            _metrics.Checkouts.Add(1, _poolTag);
        }

        if (_metrics.CheckoutWait.Enabled)
        {
            _metrics.CheckoutWait.Record(0, _poolTag);
        }

        return true;
    }

    /// <summary>
    /// The full checkout: idle worker (validated), else an overflow worker started for this caller, else the queue.
    /// With <paramref name="tryOnly"/>, returns an empty lease instead of queueing.
    /// </summary>
    [AsyncMethodBuilder(typeof(PoolingAsyncValueTaskMethodBuilder<>))]
    public async ValueTask<Lease<TWorker>> CheckoutAsync(TimeSpan timeout, bool tryOnly, CancellationToken cancellationToken)
    {
        var stack = _options.LeakDetectionThreshold is null ? null : new StackTrace(2, fNeedFileInfo: true);
        long started = _time.GetTimestamp();
        long deadline = timeout == Timeout.InfiniteTimeSpan ? long.MaxValue : started + ToTimestampTicks(timeout);
        while (true)
        {
            cancellationToken.ThrowIfCancellationRequested();
            Lease<TWorker> lease = default;
            Waiter<TWorker>? waiter = null;
            bool startOwn = false;
            TimeSpan remaining = Timeout.InfiniteTimeSpan;
            lock (_lock)
            {
                long now = _time.GetTimestamp();
                if (_stopping)
                {
                    throw ExceptionFactory.Stopped(Name);
                }

                if (_idle.Count > 0)
                {
                    lease = MarkBusyLocked(TakeIdleLocked(), now, stack);
                }
                else if (LiveLocked < CapLocked)
                {
                    if (_backoff)
                    {
                        throw BackoffExceptionLocked();
                    }

                    // Reserve the capacity before starting, so concurrent callers cannot overshoot the cap.
                    _starting++;
                    _pending++;
                    startOwn = true;
                }
                else if (tryOnly)
                {
                    return default;
                }
                else
                {
                    if (deadline != long.MaxValue)
                    {
                        long left = deadline - now;
                        if (left <= 0)
                        {
                            _timeouts++;
                            _metrics.Timeouts.Add(1, _poolTag);
                            throw ExceptionFactory.CheckoutTimeout(Name, timeout, SnapshotLocked(now));
                        }

                        remaining = FromTimestampTicks(left);
                    }

                    if (_options.MaxWaiters is { } maxWaiters && _waiterCount >= maxWaiters)
                    {
                        _rejections++;
                        _metrics.Rejections.Add(1, _poolTag);
                        throw ExceptionFactory.Rejected(Name, maxWaiters, SnapshotLocked(now));
                    }

                    waiter = _freeWaiters.Count > 0 ? _freeWaiters.Pop() : new Waiter<TWorker>();
                    waiter.Deadline = deadline;
                    waiter.Timeout = timeout;
                    waiter.Token = cancellationToken;
                    waiter.Stack = stack;
                    EnqueueLocked(waiter);
                }

                AssertInvariantsLocked();
            }

            if (waiter is not null)
            {
                // Armed outside the lock: a token that is already cancelled runs its callback synchronously, and
                // that callback takes the lock.
                ArmWaiter(waiter, remaining);
                try
                {
                    lease = await waiter.AsValueTask().ConfigureAwait(false);
                }
                finally
                {
                    DisarmAndReturn(waiter);
                }
            }
            else if (startOwn)
            {
                lease = await StartForCallerAsync(stack).ConfigureAwait(false);
                RecordCheckout(started);
                return lease;
            }

            if (_validator is not null && !await ValidateAsync(lease, cancellationToken).ConfigureAwait(false))
            {
                continue;
            }

            RecordCheckout(started);
            return lease;
        }
    }

    private WorkerSlot<TWorker> TakeIdleLocked()
    {
        int index = _options.Strategy == PoolStrategy.Lifo ? _idle.Count - 1 : 0;
        var slot = _idle[index];
        _idle.RemoveAt(index);
        return slot;
    }

    /// <summary>Leases a slot that is in hand or was just taken from the idle list.</summary>
    private Lease<TWorker> MarkBusyLocked(WorkerSlot<TWorker> slot, long now, StackTrace? stack)
    {
        slot.State = SlotState.Busy;
        _busy++;
        _checkouts++;
        slot.Uses++;
        slot.CheckedOutAt = now;
        slot.CheckoutStack = stack;
        slot.LeakReported = false;
        var tracker = slot.SpareTracker ?? new LeaseTracker<TWorker>(this, slot);
        slot.SpareTracker = null;
        return new Lease<TWorker>(tracker, tracker.Issue());
    }

    private void RecordCheckout(long started)
    {
        if (_metrics.Checkouts.Enabled)
        {
            _metrics.Checkouts.Add(1, _poolTag);
        }

        if (_metrics.CheckoutWait.Enabled)
        {
            _metrics.CheckoutWait.Record(_time.GetElapsedTime(started).TotalSeconds, _poolTag);
        }
    }

    private async ValueTask<bool> ValidateAsync(Lease<TWorker> lease, CancellationToken cancellationToken)
    {
        var slot = lease.Slot!;
        Exception? error = null;
        bool valid;
        try
        {
            valid = await _validator!.ValidateAsync(slot.Worker!, cancellationToken).ConfigureAwait(false);
        }
        catch (OperationCanceledException) when (cancellationToken.IsCancellationRequested)
        {
            // The caller gave up while we validated: the worker is fine as far as we know; give it back.
            lease.Dispose();
            throw;
        }
        catch (Exception e)
        {
            valid = false;
            error = e;
        }

        if (!valid)
        {
            lease.Tracker!.Cancel(lease.Generation);
            Log.WorkerFailedValidation(_logger, Name, slot.Id, error);
            RemoveDead(slot, ExceptionFactory.WorkerFailedValidation(Name, slot.Id, error), countAsFailure: true);
        }

        return valid;
    }

    // ---------------------------------------------------------------- waiters

    private void EnqueueLocked(Waiter<TWorker> waiter)
    {
        waiter.Queued = true;
        waiter.Next = null;
        waiter.Previous = _tail;
        if (_tail is null)
        {
            _head = waiter;
        }
        else
        {
            _tail.Next = waiter;
        }

        _tail = waiter;
        _waiterCount++;
    }

    private Waiter<TWorker>? DequeueLocked()
    {
        var waiter = _head;
        if (waiter is not null)
        {
            UnlinkLocked(waiter);
        }

        return waiter;
    }

    private void UnlinkLocked(Waiter<TWorker> waiter)
    {
        if (waiter.Previous is null)
        {
            _head = waiter.Next;
        }
        else
        {
            waiter.Previous.Next = waiter.Next;
        }

        if (waiter.Next is null)
        {
            _tail = waiter.Previous;
        }
        else
        {
            waiter.Next.Previous = waiter.Previous;
        }

        waiter.Next = waiter.Previous = null;
        waiter.Queued = false;
        _waiterCount--;
    }

    private void ArmWaiter(Waiter<TWorker> waiter, TimeSpan remaining)
    {
        if (remaining != Timeout.InfiniteTimeSpan)
        {
            waiter.Timer ??= CreateTimer(static s => ((Waiter<TWorker>)s!).Owner!.OnWaiterTimer((Waiter<TWorker>)s!), waiter);
            waiter.Owner = this;
            waiter.Timer.Change(remaining, Timeout.InfiniteTimeSpan);
        }

        if (waiter.Token.CanBeCanceled)
        {
            waiter.Owner = this;
            waiter.Registration = waiter.Token.UnsafeRegister(
                static (s, token) => ((Waiter<TWorker>)s!).Owner!.OnWaiterCanceled((Waiter<TWorker>)s!, token),
                waiter);
        }
    }

    private void DisarmAndReturn(Waiter<TWorker> waiter)
    {
        // Dispose waits for a callback that is running right now, so after it no callback of this use is in flight
        // except a timer that has fired already; those re-check Queued and the deadline under the lock.
        waiter.Registration.Dispose();
        waiter.Timer?.Change(Timeout.InfiniteTimeSpan, Timeout.InfiniteTimeSpan);
        waiter.Reset();
        lock (_lock)
        {
            if (_freeWaiters.Count < 64)
            {
                _freeWaiters.Push(waiter);
            }
        }
    }

    private void OnWaiterTimer(Waiter<TWorker> waiter)
    {
        PoolTimeoutException timeout;
        lock (_lock)
        {
            if (!waiter.Queued || waiter.Deadline == long.MaxValue)
            {
                return;
            }

            long now = _time.GetTimestamp();
            if (now < waiter.Deadline)
            {
                // Fired early (coarse timers) or for an earlier use of this pooled waiter: re-arm for the rest.
                waiter.Timer!.Change(FromTimestampTicks(waiter.Deadline - now), Timeout.InfiniteTimeSpan);
                return;
            }

            UnlinkLocked(waiter);
            _timeouts++;
            timeout = ExceptionFactory.CheckoutTimeout(Name, waiter.Timeout, SnapshotLocked(now));
            AssertInvariantsLocked();
        }

        _metrics.Timeouts.Add(1, _poolTag);
        Log.CheckoutTimedOut(_logger, Name, waiter.Timeout);
        waiter.SetException(timeout);
    }

    private void OnWaiterCanceled(Waiter<TWorker> waiter, CancellationToken token)
    {
        lock (_lock)
        {
            if (!waiter.Queued || waiter.Token != token)
            {
                return;
            }

            UnlinkLocked(waiter);
            AssertInvariantsLocked();
        }

        waiter.SetException(new OperationCanceledException(token));
    }

    // ---------------------------------------------------------------- checkin

    /// <summary>Checks in a lease whose tracker just moved to its next generation.</summary>
    public void Return(LeaseTracker<TWorker> tracker)
    {
        var slot = tracker.Slot;
        var fx = default(Effects);
        long now = NeedsTimestamps ? _time.GetTimestamp() : 0;
        long checkedOutAt;
        lock (_lock)
        {
            slot.SpareTracker = tracker;
            if (slot.State != SlotState.Busy)
            {
                // The worker died, or the pool force-stopped it, while it was leased: already accounted for.
                return;
            }

            checkedOutAt = slot.CheckedOutAt;
            slot.CheckoutStack = null;
            DetachLocked(slot);
            if (_stopping)
            {
                StopLocked(slot, "stopped", ref fx);
            }
            else if (tracker.Broken)
            {
                StopLocked(slot, "broken", ref fx);
                ReconcileLocked(ref fx);
            }
            else if (IsDueForRetirementLocked(slot, now))
            {
                if (_waiterCount == 0)
                {
                    // Recycling: the replacement starts in the background, off this caller's path.
                    StopLocked(slot, "retired", ref fx);
                    ReconcileLocked(ref fx);
                }
                else
                {
                    // Callers wait: serve them first and retire at a later checkin, so recycling never takes
                    // a ready worker away from a queue.
                    slot.RetirePending = true;
                    AddAvailableLocked(slot, now, ref fx);
                }
            }
            else
            {
                AddAvailableLocked(slot, now, ref fx);
            }

            AssertInvariantsLocked();
        }

        if (checkedOutAt != 0 && _metrics.LeaseDuration.Enabled)
        {
            _metrics.LeaseDuration.Record(_time.GetElapsedTime(checkedOutAt, now).TotalSeconds, _poolTag);
        }

        Run(ref fx);
    }

    private bool IsDueForRetirementLocked(WorkerSlot<TWorker> slot, long now)
        => slot.Uses >= slot.MaxUses
            || slot.RecycleEpoch != _recycleEpoch
            || (_options.MaxWorkerLifetime is { } lifetime && now - slot.StartedAt >= ToTimestampTicks(lifetime));

    /// <summary>
    /// A worker in hand (returned or newly started) goes to the first waiter; else, if the pool has overflow, it is
    /// dismissed (now, or after the cooldown); else it becomes idle.
    /// </summary>
    private void AddAvailableLocked(WorkerSlot<TWorker> slot, long now, ref Effects fx)
    {
        int liveWithSlot = LiveLocked + 1;
        bool surplus = liveWithSlot > _size;
        if (liveWithSlot > CapLocked
            || (surplus && _waiterCount == 0 && _options.OverflowIdleTimeout == TimeSpan.Zero))
        {
            StopLocked(slot, "dismissed", ref fx);
            return;
        }

        if (DequeueLocked() is { } waiter)
        {
            _workers.Add(slot);
            fx.Serve(waiter, MarkBusyLocked(slot, now, waiter.Stack));
            return;
        }

        slot.State = SlotState.Idle;
        slot.IdleSince = now;
        _idle.Add(slot);
        _workers.Add(slot);
        if (surplus)
        {
            ScheduleCooldownLocked(now);
        }
    }

    /// <summary>Takes a slot out of the idle list or the busy count into hand.</summary>
    private void DetachLocked(WorkerSlot<TWorker> slot)
    {
        switch (slot.State)
        {
            case SlotState.Idle:
                _idle.Remove(slot);
                break;
            case SlotState.Busy:
                _busy--;
                break;
            default:
                return;
        }

        _workers.Remove(slot);
        slot.State = SlotState.Detached;
        if (_stopping && _busy == 0)
        {
            _drained?.TrySetResult();
        }
    }

    /// <summary>Stops a slot that is in hand (or detaches it first); the stop itself runs in the background.</summary>
    private void StopLocked(WorkerSlot<TWorker> slot, string reason, ref Effects fx)
    {
        DetachLocked(slot);
        slot.State = SlotState.Gone;
        if (slot.Worker is not null)
        {
            _pending++;
            fx.Stop(slot, reason);
        }
    }

    // ---------------------------------------------------------------- deaths and supervision

    private void OnWorkerTerminated(WorkerContext context, Exception? reason)
    {
        if (context.Slot is WorkerSlot<TWorker> slot)
        {
            RemoveDead(slot, reason ?? ExceptionFactory.WorkerTerminated(Name, slot.Id), countAsFailure: true);
        }
    }

    /// <summary>Called from the lease tracker's finalizer: nobody returned this lease, so its worker is suspect.</summary>
    public void OnLeaseAbandoned(WorkerSlot<TWorker> slot)
    {
        var stack = slot.CheckoutStack;
        if (RemoveDead(slot, ExceptionFactory.LeaseAbandoned(Name, slot.Id), countAsFailure: false))
        {
            Log.LeaseAbandoned(_logger, Name, slot.Id, stack?.ToString() ?? "(set PoolOptions.LeakDetectionThreshold to record where leases are taken)");
        }
    }

    public void OnStaleReturn(int workerId) => Log.StaleLeaseDisposed(_logger, Name, workerId);

    /// <summary>poolboy's handle_worker_exit: remove the worker, then replace it if a caller waits or the base is short.</summary>
    private bool RemoveDead(WorkerSlot<TWorker> slot, Exception reason, bool countAsFailure)
    {
        var fx = default(Effects);
        lock (_lock)
        {
            // A worker that dies while starting is handled by its start, which checks the context under the lock.
            if (slot.State is SlotState.Detached or SlotState.Gone)
            {
                return false;
            }

            _deaths++;
            StopLocked(slot, countAsFailure ? "died" : "abandoned", ref fx);
            if (countAsFailure)
            {
                RecordFailureLocked(reason, ref fx);
            }

            ReconcileLocked(ref fx);
            AssertInvariantsLocked();
        }

        if (countAsFailure)
        {
            Log.WorkerDied(_logger, Name, slot.Id, reason);
        }

        Run(ref fx);
        return true;
    }

    private void RecordFailureLocked(Exception failure, ref Effects fx)
    {
        _lastFailure = failure;
        if (_stopping)
        {
            return;
        }

        long now = _time.GetTimestamp();
        long window = ToTimestampTicks(_options.RestartWindow);
        _failureTimes.Enqueue(now);
        while (_failureTimes.Count > 0 && (now - _failureTimes.Peek() > window || _failureTimes.Count > _options.MaxRestarts + 1))
        {
            _failureTimes.Dequeue();
        }

        if (_backoff)
        {
            _backoffDelay = TimeSpan.FromTicks(Math.Min(_backoffDelay.Ticks * 2, _options.BackoffMaxDelay.Ticks));
        }
        else if (_failureTimes.Count > _options.MaxRestarts)
        {
            _backoff = true;
            _backoffDelay = _options.BackoffInitialDelay;
            fx.BackoffEntered = true;

            // No live worker will ever come back to these callers; only a start could serve them, and starts are
            // what is failing. Fail them fast with the cause rather than let them sit out their timeouts.
            if (_idle.Count + _busy == 0)
            {
                while (DequeueLocked() is { } waiter)
                {
                    fx.Fail(waiter, BackoffExceptionLocked());
                }
            }
        }
    }

    private void ExitBackoffLocked(ref Effects fx)
    {
        if (_backoff)
        {
            _backoff = false;
            _backoffDelay = _options.BackoffInitialDelay;
            _failureTimes.Clear();
            fx.BackoffEnded = true;
        }
    }

    private PoolBackoffException BackoffExceptionLocked()
        => ExceptionFactory.Backoff(
            Name, SnapshotLocked(_time.GetTimestamp()), _lastFailure, _options.MaxRestarts, _options.RestartWindow);

    /// <summary>
    /// Starts what the pool is short of: enough to keep <c>size</c> workers, and, up to the cap, one for each waiter
    /// that no start in flight will serve. In backoff, schedules a single delayed probe instead.
    /// </summary>
    private void ReconcileLocked(ref Effects fx)
    {
        if (_stopping)
        {
            return;
        }

        int live = LiveLocked;
        int want = Math.Max(_size - live, Math.Min(CapLocked - live, _waiterCount - _bgStarting));
        if (want <= 0)
        {
            return;
        }

        if (_backoff)
        {
            ScheduleProbeLocked();
            return;
        }

        _starting += want;
        _bgStarting += want;
        _pending += want;
        fx.Starts += want;
    }

    private void ScheduleProbeLocked()
    {
        if (_probeScheduled || _bgStarting > 0)
        {
            return;
        }

        _probeScheduled = true;
        _backoffTimer ??= CreateTimer(static s => ((PoolCore<TWorker>)s!).OnProbeTimer(), Timeout.InfiniteTimeSpan, Timeout.InfiniteTimeSpan);
        _backoffTimer.Change(_backoffDelay, Timeout.InfiniteTimeSpan);
    }

    private void OnProbeTimer()
    {
        var fx = default(Effects);
        lock (_lock)
        {
            _probeScheduled = false;
            if (_stopping || !_backoff)
            {
                return;
            }

            if (LiveLocked >= CapLocked)
            {
                // Every slot holds a live worker: nothing can need a start, so there is nothing to back off from.
                ExitBackoffLocked(ref fx);
            }
            else
            {
                _starting++;
                _bgStarting++;
                _pending++;
                fx.Starts++;
            }

            AssertInvariantsLocked();
        }

        Run(ref fx);
    }

    // ---------------------------------------------------------------- cooldown, leaks, resize, recycle

    private void ScheduleCooldownLocked(long now)
    {
        if (_cooldownScheduled || _options.OverflowIdleTimeout == Timeout.InfiniteTimeSpan || _idle.Count == 0)
        {
            return;
        }

        long due = _idle[0].IdleSince + ToTimestampTicks(_options.OverflowIdleTimeout) - now;
        _cooldownScheduled = true;
        _cooldownTimer ??= CreateTimer(static s => ((PoolCore<TWorker>)s!).OnCooldownTimer(), Timeout.InfiniteTimeSpan, Timeout.InfiniteTimeSpan);
        _cooldownTimer.Change(due <= 0 ? TimeSpan.Zero : FromTimestampTicks(due), Timeout.InfiniteTimeSpan);
    }

    private void OnCooldownTimer()
    {
        var fx = default(Effects);
        lock (_lock)
        {
            _cooldownScheduled = false;
            long now = _time.GetTimestamp();
            long timeout = ToTimestampTicks(_options.OverflowIdleTimeout);

            // The longest-idle worker is always at the front of the idle list, whatever the strategy.
            while (!_stopping && LiveLocked > _size && _idle.Count > 0)
            {
                var oldest = _idle[0];
                if (now - oldest.IdleSince < timeout)
                {
                    ScheduleCooldownLocked(now);
                    break;
                }

                StopLocked(oldest, "dismissed", ref fx);
            }

            AssertInvariantsLocked();
        }

        Run(ref fx);
    }

    private void OnLeakTimer()
    {
        List<(int Id, TimeSpan Held, StackTrace? Stack)>? leaks = null;
        long threshold = ToTimestampTicks(_options.LeakDetectionThreshold!.Value);
        lock (_lock)
        {
            long now = _time.GetTimestamp();
            foreach (var slot in _workers)
            {
                if (slot.State == SlotState.Busy && !slot.LeakReported && now - slot.CheckedOutAt >= threshold)
                {
                    slot.LeakReported = true;
                    (leaks ??= []).Add((slot.Id, FromTimestampTicks(now - slot.CheckedOutAt), slot.CheckoutStack));
                }
            }
        }

        foreach (var (id, held, stack) in leaks ?? [])
        {
            Log.LeaseHeldTooLong(_logger, Name, id, held, stack?.ToString() ?? "(unknown)");
        }
    }

    public void Resize(int size, int maxOverflow)
    {
        PoolOptions.ValidateLimits(Name, size, maxOverflow);
        var fx = default(Effects);
        lock (_lock)
        {
            if (_stopping)
            {
                throw ExceptionFactory.Stopped(Name);
            }

            _size = size;
            _maxOverflow = maxOverflow;
            long now = _time.GetTimestamp();

            // Surplus idle workers go now (or after the cooldown); busy surplus goes at checkin, as overflow does.
            bool cooldown = _options.OverflowIdleTimeout != TimeSpan.Zero;
            while (_idle.Count > 0 && (LiveLocked > CapLocked || (!cooldown && LiveLocked > _size)))
            {
                StopLocked(_idle[0], "dismissed", ref fx);
            }

            if (LiveLocked > _size)
            {
                ScheduleCooldownLocked(now);
            }

            ReconcileLocked(ref fx);
            AssertInvariantsLocked();
        }

        Log.PoolResized(_logger, Name, size, maxOverflow);
        Run(ref fx);
    }

    /// <summary>Retires every current worker: idle ones now, one at a time; busy ones at their checkin.</summary>
    public void RecycleAll()
    {
        var fx = default(Effects);
        lock (_lock)
        {
            if (_stopping)
            {
                throw ExceptionFactory.Stopped(Name);
            }

            _recycleEpoch++;
            RollLocked(ref fx);
            AssertInvariantsLocked();
        }

        Run(ref fx);
    }

    /// <summary>
    /// Retires idle workers of an old recycle epoch one at a time: the next only when no background start is in
    /// flight, so the pool loses at most one ready worker at a time to a rolling recycle.
    /// </summary>
    private void RollLocked(ref Effects fx)
    {
        while (!_stopping && _bgStarting == 0 && _waiterCount == 0)
        {
            var stale = _idle.Find(s => s.RecycleEpoch != _recycleEpoch);
            if (stale is null)
            {
                return;
            }

            StopLocked(stale, "retired", ref fx);
            ReconcileLocked(ref fx);
        }
    }

    // ---------------------------------------------------------------- status

    public PoolStatus GetStatus()
    {
        (WorkerSlot<TWorker> Slot, WorkerState State, long Uses, long StartedAt, bool Retire)[] slots;
        PoolStatus status;
        long now = _time.GetTimestamp();
        lock (_lock)
        {
            status = SnapshotLocked(now, includeWorkers: false);
            slots = new (WorkerSlot<TWorker>, WorkerState, long, long, bool)[_workers.Count];
            for (int i = 0; i < slots.Length; i++)
            {
                var s = _workers[i];
                slots[i] = (s, s.State == SlotState.Idle ? WorkerState.Idle : WorkerState.Busy, s.Uses, s.StartedAt,
                    s.RetirePending || s.RecycleEpoch != _recycleEpoch);
            }
        }

        // Workers' own details are user code: gathered outside the lock.
        var workers = new WorkerStatus[slots.Length];
        for (int i = 0; i < slots.Length; i++)
        {
            var (slot, state, uses, startedAt, retire) = slots[i];
            var details = new Dictionary<string, object?>(StringComparer.Ordinal);
            if (slot.Worker is IWorkerStatusProvider provider)
            {
                try
                {
                    provider.AddStatusDetails(details);
                }
                catch (Exception e)
                {
                    details["error"] = e.Message;
                }
            }

            workers[i] = new WorkerStatus(slot.Id, state, uses, _time.GetElapsedTime(startedAt, now), retire, details);
        }

        Array.Sort(workers, static (a, b) => a.Id.CompareTo(b.Id));
        return status with { Workers = workers };
    }

    private PoolStatus SnapshotLocked(long now, bool includeWorkers = true)
    {
        PoolState state;
        if (_stopping)
        {
            state = PoolState.Stopped;
        }
        else if (_backoff)
        {
            state = PoolState.Backoff;
        }
        else if (_idle.Count > 0)
        {
            state = PoolState.Ready;
        }
        else
        {
            state = LiveLocked < CapLocked ? PoolState.Overflow : PoolState.Full;
        }

        IReadOnlyList<WorkerStatus> workers = [];
        if (includeWorkers)
        {
            var list = new List<WorkerStatus>(_workers.Count);
            foreach (var s in _workers)
            {
                list.Add(new WorkerStatus(
                    s.Id,
                    s.State == SlotState.Idle ? WorkerState.Idle : WorkerState.Busy,
                    s.Uses,
                    _time.GetElapsedTime(s.StartedAt, now),
                    s.RetirePending || s.RecycleEpoch != _recycleEpoch,
                    EmptyDetails));
            }

            workers = list;
        }

        return new PoolStatus
        {
            Name = Name,
            State = state,
            Size = _size,
            MaxOverflow = _maxOverflow,
            Idle = _idle.Count,
            Busy = _busy,
            Starting = _starting,
            Waiters = _waiterCount,
            TotalCheckouts = _checkouts,
            TotalTimeouts = _timeouts,
            TotalRejections = _rejections,
            TotalRestarts = _restarts,
            TotalDeaths = _deaths,
            TotalStartFailures = _startFailures,
            LastFailure = _lastFailure,
            Workers = workers,
        };
    }

    private static readonly IReadOnlyDictionary<string, object?> EmptyDetails = new Dictionary<string, object?>(StringComparer.Ordinal);

    // ---------------------------------------------------------------- invariants

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
