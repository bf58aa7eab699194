using System.Diagnostics;
using System.Runtime.CompilerServices;

namespace Lifeguard;

/// <summary>Checkout: the allocation-free fast path, the slow path, validation, and the waiter queue.</summary>
internal sealed partial class PoolCore<TWorker>
{
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
}
