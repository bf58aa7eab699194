namespace Lifeguard;

/// <summary>The slow, effectful half of the pool: starting and stopping workers, filling and stopping the pool.</summary>
internal sealed partial class PoolCore<TWorker>
{
    // Guarded by _lock, except _nextWorkerId (interlocked).
    private int _pending; // starts and stops in flight, awaited by the stop
    private TaskCompletionSource? _pendingDone;
    private TaskCompletionSource? _drained;
    private Task? _stopTask;
    private int _nextWorkerId;

    /// <summary>Starts the base workers in parallel; if any fails, stops the others and the pool, and throws.</summary>
    public async Task FillAsync(CancellationToken cancellationToken)
    {
        int count = _options.Size;
        var numbers = new int[count];
        int generation;
        using (_lock.EnterScope())
        {
            _starting += count;
            _pending += count;
            generation = _generation;
            for (int i = 0; i < count; i++)
            {
                numbers[i] = _slotNumbers.Reserve(CapLocked);
            }
        }

        using var linked = CancellationTokenSource.CreateLinkedTokenSource(cancellationToken, _stopCts.Token);
        var starts = new Task<WorkerSlot<TWorker>>[count];
        for (int i = 0; i < count; i++)
        {
            // Task.Run: a factory may do synchronous work before its first await (Process.Start does); the base
            // workers must start in parallel all the same.
            int number = numbers[i];
            starts[i] = Task.Run(() => StartWorkerAsync(number, generation, linked.Token).AsTask(), CancellationToken.None);
        }

        try
        {
            await Task.WhenAll(starts).ConfigureAwait(false);
        }
        catch
        {
            // fall through: each task is inspected below, so every started worker is stopped.
        }

        var fx = default(Effects);
        Exception? failure = null;
        using (_lock.EnterScope())
        {
            _starting -= count;
            _pending -= count;
            long now = _time.GetTimestamp();
            for (int i = 0; i < count; i++)
            {
                var start = starts[i];
                if (start.IsCompletedSuccessfully)
                {
                    var slot = start.Result;
                    if (failure is null && !slot.Context.IsTerminated)
                    {
                        _counters.Starts++;
                        AdmitLocked(slot, now);
                        AddAvailableLocked(slot, now, ref fx);
                    }
                    else
                    {
                        failure ??= ExceptionFactory.DiedWhileStarting(Name, slot.Id, slot.Context.TerminationReason);
                        slot.ExitError = slot.Context.TerminationReason;
                        StopLocked(slot, WorkerStopReason.PoolStopped, ref fx);
                    }
                }
                else
                {
                    _slotNumbers.Release(numbers[i], vacate: false);
                    failure ??= start.Exception?.InnerException ?? new OperationCanceledException(cancellationToken);
                }
            }

            if (failure is not null)
            {
                foreach (var slot in _workers.ToArray())
                {
                    StopLocked(slot, WorkerStopReason.PoolStopped, ref fx);
                }
            }

            AssertInvariantsLocked();
        }

        Run(ref fx);
        if (failure is not null)
        {
            await StopAsync().ConfigureAwait(false);
            if (failure is OperationCanceledException && cancellationToken.IsCancellationRequested)
            {
                throw new OperationCanceledException(cancellationToken);
            }

            Log.PoolStartFailed(_logger, Name, failure);
            throw failure;
        }

        Log.PoolStarted(_logger, Name, _options.Size, _options.MaxOverflow);
    }

    /// <summary>
    /// Runs the factory for one new worker, in slot <paramref name="number"/> (reserved by the caller, who releases it
    /// if the start fails) and code generation <paramref name="generation"/>. Does not touch pool state.
    /// </summary>
    private async ValueTask<WorkerSlot<TWorker>> StartWorkerAsync(int number, int generation, CancellationToken cancellationToken)
    {
        int id = Interlocked.Increment(ref _nextWorkerId);
        var context = new WorkerContext(Name, id, _onTerminated);
        var slot = new WorkerSlot<TWorker>(id, context, number, generation);
        context.Owner = slot;
        long started = _time.GetTimestamp();
        try
        {
            slot.Worker = await _factory.StartAsync(context, cancellationToken).ConfigureAwait(false)
                ?? throw new InvalidOperationException($"The worker factory of pool '{Name}' returned null.");
        }
        catch (OperationCanceledException) when (_stopCts.IsCancellationRequested)
        {
            throw ExceptionFactory.Stopped(Name);
        }
        catch (OperationCanceledException) when (cancellationToken.IsCancellationRequested)
        {
            throw;
        }
        catch (Exception e)
        {
            _metrics.WorkerStartFailures.Add(1, _poolTag);
            Log.WorkerStartFailed(_logger, Name, id, e);
            if (_events.IsActive)
            {
                PublishStartFailed(id, e);
            }

            throw ExceptionFactory.StartFailed(Name, id, e);
        }

        slot.StartedAt = _time.GetTimestamp();
        slot.ProcessId = ReadProcessId(slot.Worker);
        DrawLimits(slot);

        _metrics.WorkerStarts.Add(1, _poolTag);
        var elapsed = _time.GetElapsedTime(started, slot.StartedAt);
        Log.WorkerStarted(_logger, Name, id, elapsed);
        if (_events.IsActive)
        {
            PublishStarted(slot, elapsed);
        }

        return slot;
    }

    /// <summary>
    /// Draws a new worker's own limits from the pool's random source: its uses (<see cref="PoolOptions.MaxUsesJitter"/>
    /// extra) and its lifetime (shortened by up to <see cref="PoolOptions.MaxWorkerLifetimeVariance"/>, never lengthened).
    /// </summary>
    private void DrawLimits(WorkerSlot<TWorker> slot)
    {
        if (_options.MaxUsesPerWorker is { } maxUses)
        {
            slot.MaxUses = maxUses + (_options.MaxUsesJitter > 0 ? NextRandom(r => r.NextInt64(_options.MaxUsesJitter + 1L)) : 0);
        }

        if (_options.MaxWorkerLifetime is { } lifetime)
        {
            double variance = _options.MaxWorkerLifetimeVariance;
            double fraction = variance > 0 ? 1 - (variance * NextRandom(static r => r.NextDouble())) : 1;
            slot.LifetimeTicks = (long)(ToTimestampTicks(lifetime) * fraction);
        }
    }

    private T NextRandom<T>(Func<Random, T> draw)
    {
        lock (_randomLock)
        {
            return draw(_random);
        }
    }

    /// <summary>Counts a successful start; it is a restart when it replaces a worker that left for a reason other than dismissal.</summary>
    private void CountStartLocked()
    {
        _counters.Starts++;
        if (_counters.ReplacementsOwed > 0)
        {
            _counters.ReplacementsOwed--;
            _counters.Restarts++;
        }
    }

    /// <summary>
    /// After a start ends, with nobody waiting and no start left in flight: surplus workers kept warm while it ran go
    /// now (no cooldown: the most recent arrival first), or when their cooldown expires.
    /// </summary>
    private void TrimSurplusLocked(long now, ref Effects fx)
    {
        if (_stopping || _waiters.Count > 0 || _starting > 0)
        {
            return;
        }

        if (_options.OverflowIdleTimeout != TimeSpan.Zero)
        {
            // Those whose cooldown passed while the start ran go now, in this transition; the others when it passes.
            DismissCooledLocked(now, ref fx);
            return;
        }

        while (_idle.Count > 0 && EffectiveLiveLocked > _size)
        {
            StopLocked(_idle[^1], WorkerStopReason.Dismissed, ref fx);
        }
    }

    private void AdmitLocked(WorkerSlot<TWorker> slot, long now)
    {
        slot.RecycleEpoch = _recycleEpoch;
        slot.IdleSince = now;
    }

    /// <summary>
    /// Every start after the initial fill (overflow for a waiter, replacement, refill, backoff probe): its worker goes
    /// to the oldest waiter, whoever's checkout made the start, or idle. A failed start fails the oldest waiter when
    /// more callers wait than starts remain in flight; the others keep waiting.
    /// </summary>
    private async Task BackgroundStartAsync()
    {
        WorkerSlot<TWorker>? slot = null;
        Exception? failure = null;
        int number;
        int generation;
        using (_lock.EnterScope())
        {
            number = _slotNumbers.Reserve(CapLocked);
            generation = _generation;
            _reservedStarts++;
        }

        try
        {
            slot = await StartWorkerAsync(number, generation, _stopCts.Token).ConfigureAwait(false);
        }
        catch (Exception e)
        {
            failure = e;
        }

        var fx = default(Effects);
        using (_lock.EnterScope())
        {
            _starting--;
            _bgStarting--;
            _pending--;
            EndReservedStartLocked(generation);
            if (slot is null)
            {
                _slotNumbers.Release(number, vacate: true); // the next start takes the slot this one was to fill
            }

            long now = _time.GetTimestamp();
            if (slot is not null && _stopping)
            {
                StopLocked(slot, WorkerStopReason.PoolStopped, ref fx);
            }
            else if (slot is not null && slot.Context.IsTerminated)
            {
                failure = ExceptionFactory.DiedWhileStarting(Name, slot.Id, slot.Context.TerminationReason);
                slot.ExitError = slot.Context.TerminationReason ?? failure;
                StopLocked(slot, WorkerStopReason.Died, ref fx);
            }
            else if (slot is not null)
            {
                CountStartLocked();
                ExitBackoffLocked(ref fx);
                AdmitLocked(slot, now);
                AddAvailableLocked(slot, now, ref fx);
            }

            if (failure is not null and not PoolStoppedException)
            {
                _counters.StartFailures++;
                if (_waiters.Count > _bgStarting && _waiters.Dequeue() is { } oldest)
                {
                    fx.Fail(oldest, failure);
                }

                RecordFailureLocked(failure, ref fx);
            }

            SettleAfterStartLocked(now, ref fx);
        }

        Run(ref fx);
    }

    /// <summary>What every start's end does last: start what is short, trim the surplus, go on rolling, signal a stop.</summary>
    private void SettleAfterStartLocked(long now, ref Effects fx)
    {
        ReconcileLocked(ref fx);
        TrimSurplusLocked(now, ref fx);
        RollLocked(ref fx);
        SignalPendingLocked();
        AssertInvariantsLocked();
    }

    /// <summary>
    /// Begins a replacement for <paramref name="predecessor"/>, a worker due to retire, while it stays: the replacement
    /// shares its slot number and counts against the cap, and the worker serves until the replacement is up.
    /// </summary>
    private void StartSuccessorLocked(WorkerSlot<TWorker> predecessor, ref Effects fx)
    {
        predecessor.Successor = SuccessorState.Starting;
        _warmPairs++;
        _starting++;
        _pending++;
        _reservedStarts++;
        _slotNumbers.Hold(predecessor.Number);
        (fx.Successors ??= []).Add(new SuccessorStart(predecessor, predecessor.Number, _generation, null, null));
    }

    /// <summary>A replacement to start before its worker leaves, or a reload's canary.</summary>
    /// <param name="Predecessor">The worker it replaces; null for a canary with no old worker to replace.</param>
    /// <param name="Number">Its slot number, held already.</param>
    /// <param name="Generation">Its code generation.</param>
    /// <param name="RollOut">For a canary: the roll-out that begins if it starts.</param>
    /// <param name="Canary">For a canary: completed when it has joined, failed with why it did not.</param>
    private readonly record struct SuccessorStart(
        WorkerSlot<TWorker>? Predecessor, int Number, int Generation, RollOut? RollOut, TaskCompletionSource? Canary);

    /// <summary>
    /// A replacement started before its worker leaves (<see cref="StartSuccessorLocked"/>), or a reload's canary
    /// (<see cref="StartCanaryLocked"/>). When it is up, the worker it replaces leaves at once if idle, or at its
    /// checkin if leased; then the replacement goes to the oldest waiter, or idle. If it fails, the worker stays (due
    /// to retire, unless this was a canary) and no caller is failed: no caller waited for it.
    /// </summary>
    private async Task SuccessorStartAsync(SuccessorStart start)
    {
        var predecessor = start.Predecessor;
        WorkerSlot<TWorker>? slot = null;
        Exception? failure = null;
        try
        {
            slot = await StartWorkerAsync(start.Number, start.Generation, _stopCts.Token).ConfigureAwait(false);
        }
        catch (Exception e)
        {
            failure = e;
        }

        var fx = default(Effects);
        using (_lock.EnterScope())
        {
            _starting--;
            _pending--;
            EndReservedStartLocked(start.Generation);
            bool paired = predecessor?.Successor == SuccessorState.Starting;
            if (slot is null)
            {
                _slotNumbers.Release(start.Number, vacate: false);
            }

            long now = _time.GetTimestamp();
            if (slot is not null && !_stopping && slot.Context.IsTerminated)
            {
                failure = ExceptionFactory.DiedWhileStarting(Name, slot.Id, slot.Context.TerminationReason);
                slot.ExitError = slot.Context.TerminationReason ?? failure;
                StopLocked(slot, WorkerStopReason.Died, ref fx);
                slot = null;
            }

            if (slot is not null && _stopping)
            {
                StopLocked(slot, WorkerStopReason.PoolStopped, ref fx);
                failure = ExceptionFactory.Stopped(Name);
            }
            else if (slot is not null)
            {
                // It replaces a retired worker (or one that left meanwhile for another reason): a restart either way.
                _counters.Starts++;
                _counters.Restarts++;
                ExitBackoffLocked(ref fx);
                AdmitLocked(slot, now);
                if (start.RollOut is { } rollOut)
                {
                    OnCanaryStartedLocked(rollOut);
                }

                if (paired)
                {
                    predecessor!.Successor = SuccessorState.Joined;
                    predecessor.RetirePending = true;
                    if (predecessor.State == SlotState.Idle)
                    {
                        StopLocked(predecessor, WorkerStopReason.Retired, ref fx);
                    }
                }

                AddAvailableLocked(slot, now, ref fx);
                paired = false;
            }

            if (paired)
            {
                predecessor!.Successor = SuccessorState.None;
                _warmPairs--;
            }

            if (failure is not null and not PoolStoppedException)
            {
                _counters.StartFailures++;
                RecordFailureLocked(failure, ref fx);
            }

            SettleAfterStartLocked(now, ref fx);
        }

        Run(ref fx);
        if (start.Canary is { } canary)
        {
            if (failure is null)
            {
                canary.TrySetResult();
            }
            else
            {
                canary.TrySetException(failure);
            }
        }
    }

    private async Task StopWorkerAsync(WorkerSlot<TWorker> slot, WorkerStopReason reason)
    {
        bool claimed = false;
        Exception? failure = null;
        try
        {
            if (slot.TryClaimStop())
            {
                claimed = true;
                await _factory.StopAsync(slot.Worker!).ConfigureAwait(false);
                _metrics.WorkerExits.Add(1, _poolTag, new(LifeguardMetrics.ReasonTag, ReasonTag(reason)));
                Log.WorkerStopped(_logger, Name, slot.Id, ReasonTag(reason));
            }
        }
        catch (Exception e)
        {
            failure = e;
            Log.WorkerStopFailed(_logger, Name, slot.Id, e);
        }
        finally
        {
            // Published before the stop is counted done: a pool's PoolStopped comes after all its WorkerStopped.
            if (claimed && _events.IsActive)
            {
                PublishStopped(slot, reason, failure);
            }

            using (_lock.EnterScope())
            {
                _pending--;
                _stopsInFlight--;
                SignalPendingLocked();
            }
        }
    }

    private void SignalPendingLocked()
    {
        if (_pending == 0)
        {
            _pendingDone?.TrySetResult();
        }
    }

    /// <summary>
    /// Stops the pool: fails waiters and new checkouts, stops idle workers, waits up to the drain timeout for leases
    /// to come back, then stops every worker left and waits for starts and stops in flight. Idempotent.
    /// </summary>
    public Task StopAsync()
    {
        var fx = default(Effects);
        TaskCompletionSource? done = null;
        RollOut? rollOut = null;
        TaskCompletionSource? pendingCanary = null;
        Task stopTask;
        using (_lock.EnterScope())
        {
            if (_stopTask is null)
            {
                _stopping = true;
                done = new TaskCompletionSource(TaskCreationOptions.RunContinuationsAsynchronously);
                _stopTask = done.Task;
                while (_waiters.Dequeue() is { } waiter)
                {
                    fx.Fail(waiter, ExceptionFactory.Stopped(Name));
                }

                while (_idle.Count > 0)
                {
                    StopLocked(_idle[^1], WorkerStopReason.PoolStopped, ref fx);
                }

                rollOut = _rollOut;
                _rollOut = null;
                pendingCanary = _pendingCanary?.Canary;
                _pendingCanary = null;

                _drained = new TaskCompletionSource(TaskCreationOptions.RunContinuationsAsynchronously);
                if (_busy == 0)
                {
                    _drained.TrySetResult();
                }

                AssertInvariantsLocked();
            }

            stopTask = _stopTask;
        }

        if (done is null)
        {
            return stopTask; // already stopping: the same task for every caller
        }

        Log.PoolStopping(_logger, Name);
        if (_events.IsActive)
        {
            PublishPool(PoolEventKind.PoolStopping, "Stopping: checkouts fail from now on; leased workers are awaited up to DrainTimeout.");
        }

        _stopCts.Cancel();
        rollOut?.Done.TrySetException(ExceptionFactory.Stopped(Name));
        pendingCanary?.TrySetException(ExceptionFactory.Stopped(Name));
        Run(ref fx);
        _ = CompleteStopAsync(done);
        return stopTask;
    }

    private async Task CompleteStopAsync(TaskCompletionSource done)
    {
        try
        {
            if (_options.DrainTimeout != Timeout.InfiniteTimeSpan && _options.DrainTimeout <= MaxTimerDelay)
            {
                await _drained!.Task.WaitAsync(_options.DrainTimeout, _time, CancellationToken.None).ConfigureAwait(ConfigureAwaitOptions.SuppressThrowing);
            }
            else
            {
                await _drained!.Task.WaitAsync(CancellationToken.None).ConfigureAwait(false);
            }

            var fx = default(Effects);
            Task pending;
            int undrained;
            using (_lock.EnterScope())
            {
                undrained = _busy;

                foreach (var slot in _workers.ToArray())
                {
                    StopLocked(slot, WorkerStopReason.PoolStopped, ref fx);
                }

                _pendingDone = new TaskCompletionSource(TaskCreationOptions.RunContinuationsAsynchronously);
                SignalPendingLocked();
                pending = _pendingDone.Task;
                AssertInvariantsLocked();
            }

            if (undrained > 0)
            {
                // Logged outside the lock: a logger may read the pool's status.
                Log.DrainTimedOut(_logger, Name, undrained, _options.DrainTimeout);
            }

            Run(ref fx);
            await pending.ConfigureAwait(false);
            _cooldownTimer?.Dispose();
            _backoffTimer?.Dispose();
            _leakTimer?.Dispose();
            _sizingTimer.Dispose();
            _metrics.Unregister(this);
            Log.PoolStopped(_logger, Name);
        }
        finally
        {
            // The pool's last event; then its subscriptions complete (a registry's carry on with the other pools).
            if (_events.IsActive)
            {
                PublishPool(PoolEventKind.PoolStopped, "Stopped: every worker has been stopped.");
            }

            _events.Complete();
            done.TrySetResult();
        }
    }
}
