namespace Lifeguard;

/// <summary>Supervision: worker deaths, restart intensity, backoff, and starting what the pool is short of.</summary>
internal sealed partial class PoolCore<TWorker>
{
    // Guarded by _lock.
    private readonly RestartWindow _restartWindow;
    private bool _backoff;
    private bool _probeScheduled;
    private ITimer? _backoffTimer;
    private Exception? _lastFailure;

    private void OnWorkerTerminated(WorkerContext context, Exception? reason)
    {
        if (context.Owner is WorkerSlot<TWorker> slot)
        {
            RemoveDead(slot, reason ?? ExceptionFactory.WorkerTerminated(Name, slot.Id), countAsFailure: true);
        }
    }

    /// <summary>Called from a lease tracker's finalizer: if a lease was still out, nobody returned it.</summary>
    public void OnTrackerFinalized(LeaseTracker<TWorker> tracker)
    {
        bool ended;
        using (_lock.EnterScope())
        {
            ended = tracker.TryEndCurrentLocked();
        }

        if (ended)
        {
            OnLeaseAbandoned(tracker.Slot);
        }
    }

    /// <summary>A lease was never returned, so its worker is suspect.</summary>
    private void OnLeaseAbandoned(WorkerSlot<TWorker> slot)
    {
        var stack = slot.CheckoutStack;
        if (RemoveDead(slot, ExceptionFactory.LeaseAbandoned(Name, slot.Id), countAsFailure: false))
        {
            Log.LeaseAbandoned(_logger, Name, slot.Id, stack?.ToString() ?? "(set PoolOptions.LeakDetectionThreshold to record where leases are taken)");
        }
    }

    public void OnStaleReturn(int workerId) => Log.StaleLeaseDisposed(_logger, Name, workerId);

    /// <summary>Removes a worker that failed validation at checkout, counting it as a death; false if it is gone already.</summary>
    private bool RemoveInvalidLocked(WorkerSlot<TWorker> slot, Exception reason, ref Effects fx)
    {
        if (slot.State is SlotState.Detached or SlotState.Gone)
        {
            return false;
        }

        slot.ExitError = reason;
        if (slot.KillRequested)
        {
            StopLocked(slot, WorkerStopReason.Killed, ref fx);
            return true;
        }

        _counters.Deaths++;
        StopLocked(slot, WorkerStopReason.Died, ref fx);
        RecordFailureLocked(reason, ref fx);
        return true;
    }

    /// <summary>poolboy's handle_worker_exit: remove the worker, then replace it if a caller waits or the base is short.</summary>
    private bool RemoveDead(WorkerSlot<TWorker> slot, Exception reason, bool countAsFailure)
    {
        var fx = default(Effects);
        bool killed;
        using (_lock.EnterScope())
        {
            // A worker that dies while starting is handled by its start, which checks the context under the lock.
            if (slot.State is SlotState.Detached or SlotState.Gone)
            {
                return false;
            }

            // An operator's kill is not a failure: no death, no restart intensity, but a replacement as after one.
            killed = slot.KillRequested;
            countAsFailure &= !killed;
            slot.ExitError = reason;
            if (!killed)
            {
                _counters.Deaths++;
            }

            StopLocked(slot, killed ? WorkerStopReason.Killed : countAsFailure ? WorkerStopReason.Died : WorkerStopReason.Abandoned, ref fx);
            if (countAsFailure)
            {
                RecordFailureLocked(reason, ref fx);
            }

            ReconcileLocked(ref fx);
            AssertInvariantsLocked();
        }

        if (killed)
        {
            Log.WorkerKilled(_logger, Name, slot.Id, reason);
        }
        else if (countAsFailure)
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

        bool exceeded = _restartWindow.RecordFailure(_time.GetTimestamp());
        if (_backoff)
        {
            _restartWindow.LengthenDelay();
            ScheduleProbeLocked();
        }
        else if (exceeded)
        {
            _backoff = true;
            _restartWindow.ResetDelay();
            fx.BackoffEntered = true;

            // Always probe, even when nothing is short right now: otherwise a pool whose base is healthy but whose
            // overflow starts failed would refuse overflow for ever.
            ScheduleProbeLocked();

            // No live worker will ever come back to these callers; only a start could serve them, and starts are
            // what is failing. Fail them fast with the cause rather than let them sit out their timeouts.
            if (_idle.Count + _busy == 0)
            {
                while (_waiters.Dequeue() is { } waiter)
                {
                    fx.Fail(waiter, BackoffExceptionLocked());
                }
            }
        }

        if (_backoff)
        {
            FailStrandedStartBoundLocked(ref fx);
        }
    }

    /// <summary>
    /// In backoff, try-only and zero-timeout callers that no start in flight will reach fail at once: they wait only
    /// for a start, and none is coming until the backoff ends.
    /// </summary>
    private void FailStrandedStartBoundLocked(ref Effects fx)
    {
        int position = 0;
        for (var waiter = _waiters.Head; waiter is not null;)
        {
            var next = waiter.Next;
            if (waiter.StartBound && position >= _bgStarting)
            {
                _waiters.Unlink(waiter);
                fx.Fail(waiter, BackoffExceptionLocked());
            }
            else
            {
                position++;
            }

            waiter = next;
        }
    }

    private void ExitBackoffLocked(ref Effects fx)
    {
        if (_backoff)
        {
            _backoff = false;
            _restartWindow.Clear();
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
        AdvanceReloadLocked(ref fx);
        if (_stopping)
        {
            return;
        }

        // A warm pair counts once against the size but twice against the cap, which bounds every start.
        int live = LiveLocked;
        int want = Math.Min(CapLocked - live, Math.Max(_size - EffectiveLiveLocked, _waiters.Count - _bgStarting));
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
        ArmLocked(_backoffTimer, _restartWindow.BackoffDelay);
    }

    private void OnProbeTimer()
    {
        var fx = default(Effects);
        using (_lock.EnterScope())
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
}
