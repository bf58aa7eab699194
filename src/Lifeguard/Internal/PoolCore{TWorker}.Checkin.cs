namespace Lifeguard;

/// <summary>Checkin: a returned worker goes to the first waiter, is dismissed as overflow, retired, or becomes idle.</summary>
internal sealed partial class PoolCore<TWorker>
{
    /// <summary>Checks in a lease whose tracker just moved to its next generation.</summary>
    public void Return(LeaseTracker<TWorker> tracker)
    {
        var slot = tracker.Slot;
        var fx = default(Effects);
        long now = NeedsTimestamps ? _time.GetTimestamp() : 0;
        bool recycle = _recycler is not null && ShouldRecycle(slot);
        long checkedOutAt;
        using (_lock.EnterScope())
        {
            slot.SpareTracker = tracker;
            checkedOutAt = slot.CheckedOutAt;
            if (slot.State != SlotState.Busy)
            {
                // The worker died, or the pool force-stopped it, while it was leased: already accounted for, but the
                // lease still counts (these are often the longest: a call that hung until its timeout).
                RecordLeaseDuration(checkedOutAt, now);
                return;
            }

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
            else if (recycle || IsDueForRetirementLocked(slot, now))
            {
                // Retire only when no caller waits and starts work (not in backoff): otherwise the worker keeps
                // serving and retires at a later checkin.
                if (_waiterCount == 0 && !_backoff)
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

        RecordLeaseDuration(checkedOutAt, now);
        Run(ref fx);
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
        // A warm worker is never dismissed while a start is in flight: the start may be for a caller this worker can
        // serve sooner, and if not, the surplus is taken when the start ends (TrimSurplusLocked).
        if (liveWithSlot > CapLocked
            || (surplus && _waiterCount == 0 && _starting == 0 && _options.OverflowIdleTimeout == TimeSpan.Zero))
        {
            StopLocked(slot, "dismissed", ref fx);
            return;
        }

        ListLocked(slot);
        if (DequeueLocked() is { } waiter)
        {
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
    private void StopLocked(WorkerSlot<TWorker> slot, string reason, ref Effects fx)
    {
        DetachLocked(slot);
        if (slot.Listed)
        {
            _workers.Remove(slot);
            slot.Listed = false;
        }

        slot.State = SlotState.Gone;

        // An operator's kill names the departure, whatever removed the worker first (but a pool stop is a stop).
        if (slot.KillRequested && reason != "stopped")
        {
            reason = "killed";
        }

        if (reason is "died" or "abandoned" or "broken" or "retired" or "killed" && _replacementsOwed < CapLocked)
        {
            _replacementsOwed++;
        }

        if (slot.Worker is not null)
        {
            _pending++;
            _stopsInFlight++;
            fx.Stop(slot, reason);
        }
    }
}
