using System.Runtime.CompilerServices;

namespace Lifeguard;

/// <summary>Checkin: a returned worker goes to the first waiter, is dismissed as overflow, retired, or becomes idle.</summary>
internal sealed partial class PoolCore<TWorker>
{
    /// <summary>What the lock-held part of a plain checkin found.</summary>
    private enum ReturnOutcome
    {
        /// <summary>The worker is idle again; nothing else to do.</summary>
        Idle,

        /// <summary>The lease had been returned already (a repeated or stale disposal).</summary>
        Stale,

        /// <summary>The lease ended, and the worker needs more than becoming idle: the lock is still held.</summary>
        More,
    }

    /// <summary>
    /// Checks in the lease <paramref name="generation"/> of <paramref name="tracker"/>; a repeated or stale disposal is
    /// logged and ignored. The common checkin (nobody waits, nothing to retire, no surplus, nothing timed) is one
    /// short pass under the lock, whose enter is its one atomic operation: the lease's generation moves on and the
    /// worker becomes idle. Anything else continues under the same hold (<see cref="ReturnHeld"/>).
    /// </summary>
    public void Return(LeaseTracker<TWorker> tracker, int generation)
    {
        if (_recycler is not null || NeedsTimestamps)
        {
            ReturnTimedOrRecycled(tracker, generation);
            return;
        }

        _lock.Enter();
        ReturnOutcome outcome;
        try
        {
            outcome = TryReturnIdleLocked(tracker, generation);
        }
        catch
        {
            _lock.Exit();
            throw;
        }

        switch (outcome)
        {
            case ReturnOutcome.Idle:
                _lock.Exit();
                break;
            case ReturnOutcome.Stale:
                _lock.Exit();
                OnStaleReturn(tracker.Slot.Id);
                break;
            default:
                ReturnHeld(tracker, now: 0, recycle: false);
                break;
        }
    }

    /// <summary>
    /// Ends the lease and, when a checkin has nothing else to decide, makes the worker idle: the checks are those
    /// <see cref="ReturnLocked"/> makes, in the order that finds the common case quickest.
    /// </summary>
    private ReturnOutcome TryReturnIdleLocked(LeaseTracker<TWorker> tracker, int generation)
    {
        if (!tracker.TryEndLocked(generation))
        {
            return ReturnOutcome.Stale;
        }

        var slot = tracker.Slot;

        // The slot is still counted busy, so LiveLocked is the live count with it: beyond the size it is surplus.
        if (_waiters.Count != 0 || slot.State != SlotState.Busy || _stopping || LiveLocked > _size
            || slot.Uses >= slot.MaxUses || slot.RecycleEpoch != _recycleEpoch || slot.RetirePending || slot.Generation != _generation
            || tracker.Broken)
        {
            return ReturnOutcome.More;
        }

        slot.SpareTracker = tracker;
        slot.CheckoutStack = null;
        slot.State = SlotState.Idle;
        slot.IdleSince = 0;
        _busy--;
        _idle.Add(slot);
        AssertInvariantsLocked();
        return ReturnOutcome.Idle;
    }

    /// <summary>
    /// A checkin that reads the clock (lease duration, lifetime, cooldown, leak detection) or asks the factory's
    /// recycler. The recycler is user code, so it runs outside the lock, after the lease has ended: only the
    /// disposal that ended it asks.
    /// </summary>
    private void ReturnTimedOrRecycled(LeaseTracker<TWorker> tracker, int generation)
    {
        long now = NeedsTimestamps ? _time.GetTimestamp() : 0;
        bool recycle = false;
        if (_recycler is not null)
        {
            bool ended;
            using (_lock.EnterScope())
            {
                ended = tracker.TryEndLocked(generation);
            }

            if (!ended)
            {
                OnStaleReturn(tracker.Slot.Id);
                return;
            }

            recycle = ShouldRecycle(tracker.Slot);
            _lock.Enter();
        }
        else
        {
            _lock.Enter();
            if (!tracker.TryEndLocked(generation))
            {
                _lock.Exit();
                OnStaleReturn(tracker.Slot.Id);
                return;
            }
        }

        ReturnHeld(tracker, now, recycle);
    }

    /// <summary>The rest of a checkin whose lease has ended, entered with the lock held; releases it.</summary>
    [MethodImpl(MethodImplOptions.NoInlining)]
    private void ReturnHeld(LeaseTracker<TWorker> tracker, long now, bool recycle)
    {
        var fx = default(Effects);
        long checkedOutAt;
        try
        {
            checkedOutAt = ReturnLocked(tracker, now, recycle, ref fx);
        }
        finally
        {
            _lock.Exit();
        }

        RecordLeaseDuration(checkedOutAt, now);
        Run(ref fx);
    }

    /// <summary>
    /// A returned worker goes to the first waiter, is stopped (pool stopping, broken), retired, dismissed as surplus,
    /// or becomes idle. Returns when the lease began, for its duration.
    /// </summary>
    private long ReturnLocked(LeaseTracker<TWorker> tracker, long now, bool recycle, ref Effects fx)
    {
        var slot = tracker.Slot;
        slot.SpareTracker = tracker;
        long checkedOutAt = slot.CheckedOutAt;
        if (slot.State != SlotState.Busy)
        {
            // The worker died, or the pool force-stopped it, while it was leased: already accounted for, but the
            // lease still counts (these are often the longest: a call that hung until its timeout).
            return checkedOutAt;
        }

        slot.CheckoutStack = null;
        DetachLocked(slot);
        if (_stopping)
        {
            StopLocked(slot, WorkerStopReason.PoolStopped, ref fx);
        }
        else if (tracker.Broken)
        {
            StopLocked(slot, WorkerStopReason.Broken, ref fx);
            ReconcileLocked(ref fx);
        }
        else if (recycle || IsDueForRetirementLocked(slot, now))
        {
            RetireLocked(slot, now, ref fx);
        }
        else
        {
            AddAvailableLocked(slot, now, ref fx);
        }

        StartPendingCanaryLocked(ref fx); // a worker that left may have made room for a reload's canary
        AssertInvariantsLocked();
        return checkedOutAt;
    }

    /// <summary>
    /// A checked-in worker due to retire. Callers wait: it serves them first and retires at a later checkin, so
    /// recycling never takes a ready worker away from a queue. Else, if its replacement has joined, it goes; if the
    /// replacement is starting, it serves until then. Else its replacement starts first, while it stays ready (warm
    /// recycling), when the cap has room for both; at the cap it retires and is then replaced in the background
    /// (not in backoff, where no replacement could start: it keeps serving). A worker of an older code generation
    /// serves on only while its reload is rolling out (it is replaced as the roll-out goes); once the reload has
    /// returned, it leaves at its checkin, whoever waits, so that no call starts on old code.
    /// </summary>
    private void RetireLocked(WorkerSlot<TWorker> slot, long now, ref Effects fx)
    {
        slot.RetirePending = true;
        bool old = slot.Generation != _generation;
        if (old && _rollOut is null)
        {
            StopLocked(slot, WorkerStopReason.Retired, ref fx);
            ReconcileLocked(ref fx);
            return;
        }

        if (_waiters.Count > 0)
        {
            AddAvailableLocked(slot, now, ref fx);
            return;
        }

        switch (slot.Successor)
        {
            case SuccessorState.Joined:
                StopLocked(slot, WorkerStopReason.Retired, ref fx);
                ReconcileLocked(ref fx);
                break;
            case SuccessorState.Starting:
                AddAvailableLocked(slot, now, ref fx);
                break;
            case SuccessorState.None when _backoff:
                AddAvailableLocked(slot, now, ref fx);
                break;
            case SuccessorState.None when old:
                // The roll-out replaces it, idle, as soon as it has room for one more (one over the cap).
                AddAvailableLocked(slot, now, ref fx);
                ReconcileLocked(ref fx);
                break;
            case SuccessorState.None when LiveLocked + 2 <= CapLocked:
                // The slot is in hand: the live count is without it, so its replacement and it make two more.
                StartSuccessorLocked(slot, ref fx);
                AddAvailableLocked(slot, now, ref fx);
                break;
            default:
                StopLocked(slot, WorkerStopReason.Retired, ref fx);
                ReconcileLocked(ref fx);
                break;
        }
    }

    private void RecordLeaseDuration(long checkedOutAt, long now)
    {
        if (checkedOutAt != 0 && _metrics.LeaseDuration.Enabled)
        {
            _metrics.LeaseDuration.Record(_time.GetElapsedTime(checkedOutAt, now).TotalSeconds, _poolTag);
        }
    }

    /// <summary>Asks the factory's recycler, outside the lock; a recycler that throws retires the worker.</summary>
    private bool ShouldRecycle(WorkerSlot<TWorker> slot)
    {
        try
        {
            return slot.Worker is { } worker && _recycler!.ShouldRetire(worker);
        }
        catch (Exception e)
        {
            Log.RecyclerFailed(_logger, Name, slot.Id, e);
            return true;
        }
    }

    private bool IsDueForRetirementLocked(WorkerSlot<TWorker> slot, long now)
        => slot.RetirePending
            || slot.Generation != _generation
            || slot.Uses >= slot.MaxUses
            || slot.RecycleEpoch != _recycleEpoch
            || (_options.MaxWorkerLifetime is not null && now - slot.StartedAt >= slot.LifetimeTicks);

    /// <summary>
    /// A worker in hand (returned or newly started) goes to the first waiter; else, if the pool has overflow, it is
    /// dismissed (now, or after the cooldown); else it becomes idle.
    /// </summary>
    private void AddAvailableLocked(WorkerSlot<TWorker> slot, long now, ref Effects fx)
    {
        // Measured without the extra worker of each warm pair: a worker whose replacement has joined leaves at its
        // checkin, so the replacement is never surplus on its account.
        int liveWithSlot = EffectiveLiveLocked + 1;
        bool surplus = liveWithSlot > _size;
        // A warm worker is never dismissed while a start is in flight: the start may be for a caller this worker can
        // serve sooner, and if not, the surplus is taken when the start ends (TrimSurplusLocked).
        if (liveWithSlot > CapLocked
            || (surplus && _waiters.Count == 0 && _starting == 0 && _options.OverflowIdleTimeout == TimeSpan.Zero))
        {
            StopLocked(slot, WorkerStopReason.Dismissed, ref fx);
            return;
        }

        ListLocked(slot);
        if (_waiters.Dequeue() is { } waiter)
        {
            slot.IdleSince = now; // handed on without idling: an idle check finds it idle for no time at all
            fx.Serve(waiter, MarkBusyLocked(slot, now, waiter.Stack));
            return;
        }

        slot.State = SlotState.Idle;
        slot.IdleSince = now;
        _idle.Add(slot);
        if (surplus)
        {
            ScheduleCooldownLocked(now);
        }
    }

    /// <summary>
    /// Puts a slot in the list of live workers (for status and stop). A worker stays listed from its admission until
    /// it is stopped, so the common checkin (busy to idle, or to a waiter) touches the list not at all.
    /// </summary>
    private void ListLocked(WorkerSlot<TWorker> slot)
    {
        if (!slot.Listed)
        {
            _workers.Add(slot);
            slot.Listed = true;
        }
    }

    /// <summary>Takes a slot out of the idle list or the busy count into hand (it stays listed).</summary>
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

        slot.State = SlotState.Detached;
        if (_stopping && _busy == 0)
        {
            _drained?.TrySetResult();
        }
    }

    /// <summary>Stops a slot that is in hand (or detaches it first); the stop itself runs in the background.</summary>
    private void StopLocked(WorkerSlot<TWorker> slot, WorkerStopReason reason, ref Effects fx)
    {
        DetachLocked(slot);
        if (slot.Listed)
        {
            _workers.Remove(slot);
            slot.Listed = false;
            _counters.DepartedUses += slot.Uses;
        }

        slot.State = SlotState.Gone;

        // An operator's kill names the departure, whatever removed the worker first (but a pool stop is a stop).
        if (slot.KillRequested && reason != WorkerStopReason.PoolStopped)
        {
            reason = WorkerStopReason.Killed;
        }

        // A worker whose replacement was started before it left owes none: that one counts as the restart.
        bool replaced = slot.Successor != SuccessorState.None;
        if (replaced)
        {
            slot.Successor = SuccessorState.None;
            _warmPairs--;
        }

        bool owed = !replaced && reason is not (WorkerStopReason.Dismissed or WorkerStopReason.PoolStopped);
        if (owed && _counters.ReplacementsOwed < CapLocked)
        {
            _counters.ReplacementsOwed++;
        }

        if (slot.HoldsNumber)
        {
            slot.HoldsNumber = false;
            _slotNumbers.Release(slot.Number, vacate: owed);
        }

        if (slot.Worker is not null)
        {
            _pending++;
            _stopsInFlight++;
            fx.Stop(slot, reason);
        }
    }
}
