namespace Lifeguard;

/// <summary>Timed and administrative transitions: overflow cooldown, leak detection, resize, rolling recycle, status.</summary>
internal sealed partial class PoolCore<TWorker>
{
    private static readonly IReadOnlyDictionary<string, object?> EmptyDetails = new Dictionary<string, object?>(StringComparer.Ordinal);

    // Guarded by _lock.
    private readonly ITimer? _leakTimer;
    private bool _cooldownScheduled;
    private ITimer? _cooldownTimer;

    private void ScheduleCooldownLocked(long now)
    {
        if (_cooldownScheduled || _options.OverflowIdleTimeout == Timeout.InfiniteTimeSpan || _idle.Count == 0)
        {
            return;
        }

        long due = _idle[0].IdleSince + ToTimestampTicks(_options.OverflowIdleTimeout) - now;
        _cooldownScheduled = true;
        _cooldownTimer ??= CreateTimer(static s => ((PoolCore<TWorker>)s!).OnCooldownTimer(), Timeout.InfiniteTimeSpan, Timeout.InfiniteTimeSpan);
        ArmLocked(_cooldownTimer, due <= 0 ? TimeSpan.Zero : FromTimestampTicks(due));
    }

    private void OnCooldownTimer()
    {
        var fx = default(Effects);
        using (_lock.EnterScope())
        {
            _cooldownScheduled = false;
            DismissCooledLocked(_time.GetTimestamp(), ref fx);
            StartPendingCanaryLocked(ref fx);
            AssertInvariantsLocked();
        }

        Run(ref fx);
    }

    /// <summary>
    /// Dismisses the surplus workers whose cooldown has passed, longest idle first, and schedules the cooldown of the
    /// next. While a start is in flight nothing is dismissed: the start's end takes the surplus (TrimSurplusLocked).
    /// </summary>
    private void DismissCooledLocked(long now, ref Effects fx)
    {
        if (_options.OverflowIdleTimeout == Timeout.InfiniteTimeSpan)
        {
            return;
        }

        // The longest-idle worker is always at the front of the idle list, whatever the strategy.
        long timeout = ToTimestampTicks(_options.OverflowIdleTimeout);
        while (!_stopping && _starting == 0 && EffectiveLiveLocked > _size && _idle.Count > 0)
        {
            var oldest = _idle[0];
            if (now - oldest.IdleSince < timeout)
            {
                ScheduleCooldownLocked(now);
                break;
            }

            StopLocked(oldest, WorkerStopReason.Dismissed, ref fx);
        }
    }

    private void OnLeakTimer()
    {
        List<(int Id, TimeSpan Held, CheckoutStack? Stack)>? leaks = null;
        long threshold = ToTimestampTicks(_options.LeakDetectionThreshold!.Value);
        using (_lock.EnterScope())
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

    public void Resize(int size, int maxOverflow, string? source)
    {
        PoolOptions.ValidateLimits(Name, size, maxOverflow);
        var fx = default(Effects);
        int oldSize, oldMaxOverflow;
        using (_lock.EnterScope())
        {
            if (_stopping)
            {
                throw ExceptionFactory.Stopped(Name);
            }

            oldSize = _size;
            oldMaxOverflow = _maxOverflow;
            _size = size;
            _maxOverflow = maxOverflow;
            long now = _time.GetTimestamp();

            // Surplus idle workers go now (or after the cooldown); busy surplus goes at checkin, as overflow does.
            bool cooldown = _options.OverflowIdleTimeout != TimeSpan.Zero;
            while (_idle.Count > 0 && (LiveLocked > CapLocked || (!cooldown && EffectiveLiveLocked > _size)))
            {
                StopLocked(_idle[0], WorkerStopReason.Dismissed, ref fx);
            }

            if (EffectiveLiveLocked > _size)
            {
                ScheduleCooldownLocked(now);
            }

            ReconcileLocked(ref fx);
            AssertInvariantsLocked();
        }

        Log.PoolResized(_logger, Name, size, maxOverflow);
        if (_events.IsActive)
        {
            PublishPool(
                PoolEventKind.Resized,
                string.Create(
                    System.Globalization.CultureInfo.InvariantCulture,
                    $"Resized to Size {size}, MaxOverflow {maxOverflow} (from {oldSize}, {oldMaxOverflow}){By(source)}."),
                size: size,
                maxOverflow: maxOverflow,
                source: source);
        }

        Run(ref fx);
    }

    /// <summary>Retires every current worker: idle ones now, one at a time; busy ones at their checkin.</summary>
    public void RecycleAll(string? source)
    {
        var fx = default(Effects);
        int workers;
        using (_lock.EnterScope())
        {
            if (_stopping)
            {
                throw ExceptionFactory.Stopped(Name);
            }

            _recycleEpoch++;
            workers = _workers.Count;
            RollLocked(ref fx);
            AssertInvariantsLocked();
        }

        if (_events.IsActive)
        {
            PublishPool(
                PoolEventKind.RecycleRequested,
                string.Create(
                    System.Globalization.CultureInfo.InvariantCulture,
                    $"Recycling every worker ({workers}){By(source)}: idle ones one at a time, busy ones at their checkin."),
                source: source);
        }

        Run(ref fx);
    }

    /// <summary>
    /// Retires idle workers of an old recycle epoch one at a time: the next only when no background start is in
    /// flight, so the pool loses at most one ready worker at a time to a rolling recycle.
    /// </summary>
    private void RollLocked(ref Effects fx)
    {
        // Not in backoff: a retired worker could not be replaced, so recycling waits until starts work again.
        while (!_stopping && !_backoff && _bgStarting == 0 && _waiters.Count == 0)
        {
            var stale = _idle.Find(s => s.RecycleEpoch != _recycleEpoch);
            if (stale is null)
            {
                return;
            }

            StopLocked(stale, WorkerStopReason.Retired, ref fx);
            ReconcileLocked(ref fx);
        }
    }

    public PoolStatus GetStatus()
    {
        (WorkerSlot<TWorker> Slot, WorkerState State, long Uses, long StartedAt, bool Retire)[] slots;
        PoolStatus status;
        long now = _time.GetTimestamp();
        using (_lock.EnterScope())
        {
            status = SnapshotLocked(now, includeWorkers: false);
            slots = new (WorkerSlot<TWorker>, WorkerState, long, long, bool)[_workers.Count];
            for (int i = 0; i < slots.Length; i++)
            {
                var s = _workers[i];
                slots[i] = (s, s.State == SlotState.Idle ? WorkerState.Idle : WorkerState.Busy, s.Uses, s.StartedAt,
                    s.RetirePending || s.RecycleEpoch != _recycleEpoch || s.Generation != _generation);
            }
        }

        // Workers' own details are user code: gathered outside the lock.
        var workers = new WorkerStatus[slots.Length];
        for (int i = 0; i < slots.Length; i++)
        {
            var (slot, state, uses, startedAt, retire) = slots[i];
            var details = new Dictionary<string, object?>(StringComparer.Ordinal);
            long? memory = null;
            WorkerCall? call = null;
            IReadOnlyList<string> tail = [];
            if (slot.Worker is IWorkerStatusProvider provider)
            {
                try
                {
                    provider.AddStatusDetails(details);
                    memory = provider.GetResidentMemoryBytes();
                    call = provider.GetCurrentCall();
                    tail = provider.GetOutputTail();
                }
                catch (Exception e)
                {
                    details["error"] = e.Message;
                }
            }

            workers[i] = new WorkerStatus(slot.Id, state, uses, _time.GetElapsedTime(startedAt, now), retire, details)
            {
                Slot = slot.Number,
                Generation = slot.Generation,
                ProcessId = slot.ProcessId,
                ResidentMemoryBytes = memory,
                CurrentCall = call,
                OutputTail = tail,
            };
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
                    s.RetirePending || s.RecycleEpoch != _recycleEpoch || s.Generation != _generation,
                    EmptyDetails)
                {
                    Slot = s.Number,
                    Generation = s.Generation,
                    ProcessId = s.ProcessId,
                });
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
            Waiters = _waiters.Count,
            TotalCheckouts = CheckoutsLocked,
            TotalTimeouts = _counters.Timeouts,
            TotalRejections = _counters.Rejections,
            TotalRestarts = _counters.Restarts,
            TotalStarts = _counters.Starts,
            Stopping = _stopsInFlight,
            Replacing = _warmPairs,
            Generation = _generation,
            TotalDeaths = _counters.Deaths,
            TotalStartFailures = _counters.StartFailures,
            LastFailure = _lastFailure,
            Sizing = ObserveLocked(now),
            Workers = workers,
        };
    }
}
