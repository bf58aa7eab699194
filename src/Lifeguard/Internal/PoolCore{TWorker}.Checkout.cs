namespace Lifeguard;

/// <summary>Checkout: the allocation-free fast path, the slow path, validation, and the waiter queue.</summary>
internal sealed partial class PoolCore<TWorker>
{
    /// <summary>
    /// Checks out under one lock: an idle worker (synchronous, allocation-free), else an overflow worker started for
    /// this caller, else a place in the queue, returned as the pooled waiter itself. With a validator, workers are
    /// checked first (<see cref="CheckoutValidatedAsync"/>). With <paramref name="tryOnly"/>, a full pool yields an
    /// empty lease instead of a wait.
    /// </summary>
    public ValueTask<Lease<TWorker>> CheckoutAsync(TimeSpan timeout, bool tryOnly, CancellationToken cancellationToken)
    {
        // The idle count read without the lock is only a hint: when it says none, the general path looks again under
        // the lock, so a worker returned meanwhile is still found; a caller that is going to queue takes the lock once.
        if (_plainCheckout && _idle.Count > 0 && !NeedsTimestamps && !_metrics.Checkouts.Enabled && !_metrics.CheckoutWait.Enabled)
        {
            // The common checkout: an idle worker, nothing to validate, record or time. One atomic operation, the
            // lock's enter; a caller can never find a worker idle here while others wait (the queue is empty while
            // any worker is idle, and both change only under the lock).
            Lease<TWorker> lease = default;
            using (_lock.EnterScope())
            {
                if (_idle.Count > 0 && !_stopping)
                {
                    lease = MarkBusyLocked(TakeIdleLocked(), now: 0, stack: null);
                    AssertInvariantsLocked();
                }
            }

            if (!lease.IsEmpty)
            {
                return new ValueTask<Lease<TWorker>>(lease);
            }
        }

        return CheckoutSlowAsync(timeout, tryOnly, cancellationToken);
    }

    private ValueTask<Lease<TWorker>> CheckoutSlowAsync(TimeSpan timeout, bool tryOnly, CancellationToken cancellationToken)
    {
        var request = new CheckoutRequest(timeout, timeout, tryOnly, _leakDetection ? CheckoutStack.Capture() : null, cancellationToken);
        return _validator is null ? CheckoutOnceOrFault(request) : CheckoutValidatedAsync(request);
    }

    /// <summary>One checkout's terms, as the general path passes them along.</summary>
    /// <param name="Timeout">How long this attempt may wait in the queue.</param>
    /// <param name="ReportedTimeout">The caller's timeout, as a timeout exception reports it (a retry after a failed validation waits for the rest).</param>
    /// <param name="TryOnly">A full pool yields an empty lease instead of a wait.</param>
    /// <param name="Stack">Where the checkout was made, when leak detection is on.</param>
    /// <param name="CancellationToken">Stops the wait.</param>
    private readonly record struct CheckoutRequest(
        TimeSpan Timeout, TimeSpan ReportedTimeout, bool TryOnly, CheckoutStack? Stack, CancellationToken CancellationToken)
    {
        /// <summary>A worker this caller just found invalid: removed in the same transition that places the caller again.</summary>
        public WorkerSlot<TWorker>? Invalid { get; init; }

        /// <summary>Why <see cref="Invalid"/> failed its validation.</summary>
        public Exception? InvalidReason { get; init; }
    }

    /// <summary>
    /// Errors decided under the lock (stopped, backoff, timeout zero, rejected) travel in the task, as from any async
    /// method, and are counted here, outside the lock: a metrics listener's callback is user code.
    /// </summary>
    private ValueTask<Lease<TWorker>> CheckoutOnceOrFault(in CheckoutRequest request)
    {
        try
        {
            return CheckoutOnce(request);
        }
        catch (Exception e)
        {
            switch (e)
            {
                case PoolTimeoutException:
                    _metrics.Timeouts.Add(1, _poolTag);
                    break;
                case PoolRejectedException:
                    _metrics.Rejections.Add(1, _poolTag);
                    break;
            }

            return ValueTask.FromException<Lease<TWorker>>(e);
        }
    }

    /// <summary>
    /// One attempt: an idle worker, or a place in the queue (with a start for the pool when the cap allows).
    /// The request's <see cref="CheckoutRequest.Invalid"/> worker, when set, is removed in the same transition that
    /// places the caller again.
    /// </summary>
    private ValueTask<Lease<TWorker>> CheckoutOnce(in CheckoutRequest request)
    {
        var invalid = request.Invalid;
        // The clock is read only when an option, a listening histogram or a finite wait needs it.
        long now = NeedsTimestamps ? _time.GetTimestamp() : 0;
        Lease<TWorker> lease = default;
        Waiter<TWorker>? waiter = null;
        bool idle = false;
        var fx = default(Effects);
        try
        {
            using (_lock.EnterScope())
            {
                bool removed = invalid is not null && RemoveInvalidLocked(invalid, request.InvalidReason!, ref fx);
                try
                {
                    idle = _idle.Count > 0 && !_stopping;
                    if (idle)
                    {
                        lease = MarkBusyLocked(TakeIdleLocked(), now, request.Stack);
                        AssertInvariantsLocked();
                    }
                    else
                    {
                        waiter = StartOrEnqueueLocked(request, front: invalid is not null, now);
                    }
                }
                finally
                {
                    // Only now, with the caller placed, may a start begin: it serves the queue's head, whoever that is.
                    if (removed || waiter is not null)
                    {
                        ReconcileLocked(ref fx);
                        AssertInvariantsLocked();
                    }
                }
            }
        }
        finally
        {
            if (invalid is not null || waiter is not null)
            {
                Run(ref fx);
            }
        }

        if (idle)
        {
            RecordCheckout(startedAt: 0);
            return new ValueTask<Lease<TWorker>>(lease);
        }

        if (waiter is null)
        {
            return default; // try-only, and full
        }

        // Armed outside the lock: a token that is already cancelled runs its callback synchronously, and that
        // callback takes the lock.
        try
        {
            ArmWaiter(waiter, request.Timeout);
        }
        catch
        {
            // Never leave a queued waiter nobody awaits: it would swallow the next worker returned. If a worker
            // reached it already, the result stands and the caller gets it.
            bool unlinked = false;
            using (_lock.EnterScope())
            {
                if (waiter.Queued)
                {
                    _waiters.Unlink(waiter);
                    unlinked = true;
                }
            }

            if (unlinked)
            {
                OnWaiterConsumed(waiter, succeeded: false);
                throw;
            }
        }

        return waiter.AsValueTask();
    }

    /// <summary>
    /// No idle worker: queue the caller, or say "full" (try-only, null), or throw (stopped, backoff, timeout zero,
    /// rejected). A caller for whom the pool can start a worker is a waiter like any other (the caller's transition
    /// then starts one, which serves the oldest waiter): starts belong to the pool, not to the caller that made them,
    /// so a worker checked in meanwhile serves that caller instead of being dismissed as surplus (poolboy starts
    /// overflow workers synchronously, so it never has a start in flight). A try-only or zero-timeout caller waits
    /// only when a start can be made for it, and then until a worker reaches it or its start fails.
    /// </summary>
    private Waiter<TWorker>? StartOrEnqueueLocked(in CheckoutRequest request, bool front, long now)
    {
        var timeout = request.Timeout;
        bool tryOnly = request.TryOnly;
        if (_stopping)
        {
            throw ExceptionFactory.Stopped(Name);
        }

        // In backoff a caller that would need a start fails fast; it may still queue for a busy worker at the cap.
        if (_backoff && LiveLocked < CapLocked)
        {
            throw BackoffExceptionLocked();
        }

        // A start can serve this caller: capacity for one more, or a start in flight that no earlier waiter claims.
        bool canStart = !_backoff && (LiveLocked < CapLocked || _waiters.Count < _bgStarting);

        bool startBound = canStart && (tryOnly || timeout == TimeSpan.Zero);
        if (!canStart)
        {
            if (tryOnly)
            {
                return null;
            }

            if (timeout == TimeSpan.Zero)
            {
                _counters.Timeouts++;
                throw ExceptionFactory.CheckoutTimeout(Name, request.ReportedTimeout, SnapshotLocked(now == 0 ? _time.GetTimestamp() : now));
            }

            // MaxWaiters bounds the callers queued beyond the starts in flight. A caller going back to the head of
            // the queue (its worker failed validation) already had its place.
            if (!front && _options.MaxWaiters is { } maxWaiters && _waiters.Count - _bgStarting >= maxWaiters)
            {
                _counters.Rejections++;
                throw ExceptionFactory.Rejected(Name, maxWaiters, SnapshotLocked(now == 0 ? _time.GetTimestamp() : now));
            }
        }

        if (now == 0 && ((timeout != Timeout.InfiniteTimeSpan && !startBound) || _metrics.CheckoutWait.Enabled))
        {
            now = _time.GetTimestamp();
        }

        var waiter = _waiters.Rent();
        waiter.StartedAt = now;
        waiter.Deadline = timeout == Timeout.InfiniteTimeSpan || startBound ? long.MaxValue : now + ToTimestampTicks(timeout);
        waiter.Timeout = request.ReportedTimeout;
        waiter.Token = request.CancellationToken;
        waiter.Stack = request.Stack;
        waiter.StartBound = startBound;
        _waiters.Enqueue(waiter, front);
        return waiter;
    }

    /// <summary>
    /// The checkout for pools whose factory validates workers: a worker that fails is replaced, and we try again.
    /// With <see cref="PoolOptions.IdleCheckAfter"/>, only a worker idle longer than it is checked, within
    /// <see cref="PoolOptions.IdleCheckTimeout"/>; otherwise every worker is.
    /// </summary>
    private async ValueTask<Lease<TWorker>> CheckoutValidatedAsync(CheckoutRequest request)
    {
        long started = _time.GetTimestamp();
        long now = started;
        var timeout = request.Timeout;
        while (true)
        {
            var remaining = timeout == Timeout.InfiniteTimeSpan
                ? timeout
                : TimeSpan.FromTicks(Math.Max(0, (timeout - _time.GetElapsedTime(started, now)).Ticks));

            // A caller whose worker failed validation keeps its turn: the dead worker is removed and the caller
            // placed (at the head of the queue, or starting its own replacement) in one transition, so no quick
            // replacement can go to the caller behind it.
            var lease = await CheckoutOnceOrFault(request with { Timeout = remaining }).ConfigureAwait(false);
            if (lease.IsEmpty || !NeedsCheck(lease.Slot!, now))
            {
                return lease;
            }

            if (_idleCheckTicks >= 0 && request.Invalid is not null && remaining == TimeSpan.Zero)
            {
                // The caller's time ran out while a worker failed its idle check: checking this one too would overrun
                // the timeout again, by up to IdleCheckTimeout a worker. It goes back as it was, its use not counted
                // (it was never handed out); the caller times out.
                using (_lock.EnterScope())
                {
                    lease.Slot!.Uses--;
                }

                lease.Dispose();
                PoolStatus snapshot;
                using (_lock.EnterScope())
                {
                    _counters.Timeouts++;
                    snapshot = SnapshotLocked(_time.GetTimestamp());
                }

                _metrics.Timeouts.Add(1, _poolTag);
                Log.CheckoutTimedOut(_logger, Name, request.ReportedTimeout);
                throw ExceptionFactory.CheckoutTimeout(Name, request.ReportedTimeout, snapshot);
            }

            var reason = await ValidateAsync(lease, request.CancellationToken).ConfigureAwait(false);
            if (reason is null)
            {
                return lease;
            }

            request = request with { Invalid = lease.Slot, InvalidReason = reason };
            now = _time.GetTimestamp();
        }
    }

    /// <summary>
    /// Whether a worker just leased must be validated: always, without idle checks; with them, when it was idle longer
    /// than <see cref="PoolOptions.IdleCheckAfter"/> at <paramref name="now"/>, read before the attempt that leased
    /// it. A worker handed on by a checkin or a start, after the attempt began, has been idle since after
    /// <paramref name="now"/>, so it is never checked. The slot's fields are the lease holder's to read: nothing
    /// writes them while it is leased.
    /// </summary>
    private bool NeedsCheck(WorkerSlot<TWorker> slot, long now) => _idleCheckTicks < 0 || now - slot.IdleSince > _idleCheckTicks;

    /// <summary>Called by a waiter when its awaiter has read the result: metrics, then the waiter goes back to the pool.</summary>
    internal void OnWaiterConsumed(Waiter<TWorker> waiter, bool succeeded)
    {
        if (succeeded)
        {
            RecordCheckout(waiter.StartedAt);
        }

        // Dispose waits for a cancellation callback that is running right now, so after it no callback of this use
        // is in flight except a timer that has fired already; that one re-checks Queued and the deadline under the lock.
        waiter.Registration.Dispose();
        waiter.Timer?.Change(Timeout.InfiniteTimeSpan, Timeout.InfiniteTimeSpan);
        waiter.Reset();

        _waiters.Return(waiter);
    }

    /// <summary>Counts a checkout and its wait; <paramref name="startedAt"/> is when the wait began, 0 for none (or unrecorded).</summary>
    private void RecordCheckout(long startedAt)
    {
        if (_metrics.Checkouts.Enabled)
        {
            _metrics.Checkouts.Add(1, _poolTag);
        }

        if (_metrics.CheckoutWait.Enabled)
        {
            _metrics.CheckoutWait.Record(startedAt == 0 ? 0 : _time.GetElapsedTime(startedAt).TotalSeconds, _poolTag);
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
    private Lease<TWorker> MarkBusyLocked(WorkerSlot<TWorker> slot, long now, CheckoutStack? stack)
    {
        slot.State = SlotState.Busy;
        _busy++;
        slot.Uses++; // the checkout count is the sum of the uses (CheckoutsLocked)
        slot.CheckedOutAt = now;
        if (!_loadWindow.Armed)
        {
            StartMeasuringLocked(); // after a quiet spell only: one predictable test per checkout otherwise
        }

        slot.CheckoutStack = stack;
        slot.LeakReported = false;
        var tracker = slot.SpareTracker ?? new LeaseTracker<TWorker>(this, slot);
        slot.SpareTracker = null;
        return new Lease<TWorker>(tracker, tracker.Issue());
    }

    /// <summary>Validates a leased worker; on failure ends the lease (without a checkin) and returns why.</summary>
    private async ValueTask<Exception?> ValidateAsync(Lease<TWorker> lease, CancellationToken cancellationToken)
    {
        var slot = lease.Slot!;
        Exception? error = null;
        bool valid;
        try
        {
            valid = _idleCheckTicks < 0
                ? await _validator!.ValidateAsync(slot.Worker!, cancellationToken).ConfigureAwait(false)
                : await IdleCheckAsync(slot, cancellationToken).ConfigureAwait(false);
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

        if (valid)
        {
            return null;
        }

        using (_lock.EnterScope())
        {
            lease.Tracker!.TryEndLocked(lease.Generation);
        }

        Log.WorkerFailedValidation(_logger, Name, slot.Id, error);
        return ExceptionFactory.WorkerFailedValidation(Name, slot.Id, error);
    }

    /// <summary>
    /// An idle check: the validator, bounded by <see cref="PoolOptions.IdleCheckTimeout"/>. Its token fires at the
    /// timeout (or with the caller's); one that does not answer by then, token or not, fails with a
    /// <see cref="TimeoutException"/>, and the worker is replaced while the validator's task is left to end alone.
    /// A caller that gives up meanwhile waits for the validator to see its token (or for the timeout): the worker is
    /// given back only once nothing checks it any more.
    /// </summary>
    private async Task<bool> IdleCheckAsync(WorkerSlot<TWorker> slot, CancellationToken cancellationToken)
    {
        using var timeout = new CancellationTokenSource(_options.IdleCheckTimeout, _time);
        using var linked = cancellationToken.CanBeCanceled ? CancellationTokenSource.CreateLinkedTokenSource(cancellationToken, timeout.Token) : null;
        Task<bool>? check = null;
        try
        {
            var pending = _validator!.ValidateAsync(slot.Worker!, linked?.Token ?? timeout.Token);
            if (pending.IsCompletedSuccessfully)
            {
                return pending.Result;
            }

            check = pending.AsTask();
            return await check.WaitAsync(timeout.Token).ConfigureAwait(false);
        }
        catch (OperationCanceledException) when (timeout.IsCancellationRequested && (check is { IsCompleted: false } || !cancellationToken.IsCancellationRequested))
        {
            // The time ran out: whether or not the caller gave up meanwhile, a worker that has not answered is not
            // given back.
            // Observed, so that a validator failing after it was given up on raises no unobserved-task event.
            check?.ContinueWith(static t => _ = t.Exception, CancellationToken.None, TaskContinuationOptions.OnlyOnFaulted | TaskContinuationOptions.ExecuteSynchronously, TaskScheduler.Default);
            throw ExceptionFactory.IdleCheckTimedOut(Name, slot.Id, _options.IdleCheckTimeout);
        }
    }

    private void ArmWaiter(Waiter<TWorker> waiter, TimeSpan remaining)
    {
        if (remaining != Timeout.InfiniteTimeSpan && !waiter.StartBound)
        {
            waiter.Timer ??= CreateTimer(static s => ((Waiter<TWorker>)s!).Owner.OnWaiterTimer((Waiter<TWorker>)s!), waiter);
            Arm(waiter.Timer, remaining);
        }

        if (waiter.Token.CanBeCanceled)
        {
            waiter.Registration = waiter.Token.UnsafeRegister(
                static (s, token) => ((Waiter<TWorker>)s!).Owner.OnWaiterCanceled((Waiter<TWorker>)s!, token),
                waiter);
        }
    }

    private void OnWaiterTimer(Waiter<TWorker> waiter)
    {
        PoolTimeoutException timeout;
        using (_lock.EnterScope())
        {
            if (!waiter.Queued || waiter.Deadline == long.MaxValue)
            {
                return;
            }

            long now = _time.GetTimestamp();
            if (now < waiter.Deadline)
            {
                // Fired early (coarse timers) or for an earlier use of this pooled waiter: re-arm for the rest.
                ArmLocked(waiter.Timer!, FromTimestampTicks(waiter.Deadline - now));
                return;
            }

            _waiters.Unlink(waiter);
            _counters.Timeouts++;
            timeout = ExceptionFactory.CheckoutTimeout(Name, waiter.Timeout, SnapshotLocked(now));
            AssertInvariantsLocked();
        }

        _metrics.Timeouts.Add(1, _poolTag);
        Log.CheckoutTimedOut(_logger, Name, waiter.Timeout);
        waiter.SetException(timeout);
    }

    private void OnWaiterCanceled(Waiter<TWorker> waiter, CancellationToken token)
    {
        using (_lock.EnterScope())
        {
            if (!waiter.Queued || waiter.Token != token)
            {
                return;
            }

            _waiters.Unlink(waiter);
            AssertInvariantsLocked();
        }

        waiter.SetException(new OperationCanceledException(token));
    }
}
