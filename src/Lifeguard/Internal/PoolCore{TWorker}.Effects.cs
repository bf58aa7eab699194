namespace Lifeguard;

/// <summary>Effects decided under the lock and run after it, plus timer and clock helpers.</summary>
internal sealed partial class PoolCore<TWorker>
{
    private static readonly TimeSpan MaxTimerDelay = TimeSpan.FromMilliseconds(uint.MaxValue - 1);

    /// <summary>What a transition decided to do once the lock is released. A plain value: no allocation when empty.</summary>
    private struct Effects
    {
        public Waiter<TWorker>? Waiter;
        public Lease<TWorker> Lease;
        public List<(Waiter<TWorker> Waiter, Lease<TWorker> Lease, Exception? Error)>? MoreWaiters;
        public WorkerSlot<TWorker>? StopSlot;
        public WorkerStopReason StopReason;
        public List<(WorkerSlot<TWorker> Slot, WorkerStopReason Reason)>? MoreStops;
        public int Starts;
        public List<SuccessorStart>? Successors;
        public List<RollOut>? RollOutsDone;
        public bool BackoffEntered;
        public bool BackoffEnded;

        public void Serve(Waiter<TWorker> waiter, Lease<TWorker> lease)
        {
            if (Waiter is null)
            {
                Waiter = waiter;
                Lease = lease;
            }
            else
            {
                (MoreWaiters ??= []).Add((waiter, lease, null));
            }
        }

        public void Fail(Waiter<TWorker> waiter, Exception error) => (MoreWaiters ??= []).Add((waiter, default, error));

        public void Stop(WorkerSlot<TWorker> slot, WorkerStopReason reason)
        {
            if (StopSlot is null)
            {
                StopSlot = slot;
                StopReason = reason;
            }
            else
            {
                (MoreStops ??= []).Add((slot, reason));
            }
        }
    }

    private void Run(ref Effects fx)
    {
        if (fx.BackoffEntered)
        {
            Log.BackoffEntered(_logger, Name, _options.MaxRestarts, _options.RestartWindow, _lastFailure);
            if (_events.IsActive)
            {
                PublishPool(
                    PoolEventKind.BackoffEntered,
                    string.Create(
                        System.Globalization.CultureInfo.InvariantCulture,
                        $"Entered backoff: more than {_options.MaxRestarts} worker failures within {_options.RestartWindow}; checkouts that need a new worker fail fast until a start succeeds."),
                    error: _lastFailure);
            }
        }

        if (fx.BackoffEnded)
        {
            Log.BackoffEnded(_logger, Name);
            if (_events.IsActive)
            {
                PublishPool(PoolEventKind.BackoffEnded, "Left backoff: a worker started.");
            }
        }

        // Waiters first: their continuations are queued to the thread pool, so this does not run their code here.
        fx.Waiter?.SetResult(fx.Lease);
        if (fx.MoreWaiters is { } waiters)
        {
            foreach (var (waiter, lease, error) in waiters)
            {
                if (error is null)
                {
                    waiter.SetResult(lease);
                }
                else
                {
                    waiter.SetException(error);
                }
            }
        }

        // Starting and stopping run on the thread pool: a factory may block before its first await, and that must
        // never stall the checkout or checkin that triggered it.
        // Each departure is announced before its stop is queued, so a worker's WorkerStopped always comes after it.
        if (fx.StopSlot is not null)
        {
            OnLeft(fx.StopSlot, fx.StopReason);
            QueueStop(fx.StopSlot, fx.StopReason);
        }

        if (fx.MoreStops is { } stops)
        {
            foreach (var (slot, reason) in stops)
            {
                OnLeft(slot, reason);
                QueueStop(slot, reason);
            }
        }

        for (int i = 0; i < fx.Starts; i++)
        {
            ThreadPool.UnsafeQueueUserWorkItem(static core => _ = core.BackgroundStartAsync(), this, preferLocal: false);
        }

        if (fx.Successors is { } successors)
        {
            foreach (var start in successors)
            {
                ThreadPool.UnsafeQueueUserWorkItem(
                    static s => _ = s.Core.SuccessorStartAsync(s.Start), (Core: this, Start: start), preferLocal: false);
            }
        }

        if (fx.RollOutsDone is { } done)
        {
            foreach (var rollOut in done)
            {
                rollOut.Done.TrySetResult();
            }
        }
    }

    private void QueueStop(WorkerSlot<TWorker> slot, WorkerStopReason reason)
        => ThreadPool.UnsafeQueueUserWorkItem(static s => _ = s.Core.StopWorkerAsync(s.Slot, s.Reason), (Core: this, Slot: slot, Reason: reason), preferLocal: false);

    private ITimer CreateTimer(TimerCallback callback, TimeSpan dueTime, TimeSpan period) => CreateTimer(callback, this, dueTime, period);

    private ITimer CreateTimer(TimerCallback callback, object state) => CreateTimer(callback, state, Timeout.InfiniteTimeSpan, Timeout.InfiniteTimeSpan);

    private ITimer CreateTimer(TimerCallback callback, object state, TimeSpan dueTime, TimeSpan period)
    {
        // Timers outlive the call that created them: do not capture that caller's ExecutionContext (AsyncLocals).
        if (ExecutionContext.IsFlowSuppressed())
        {
            return TimerCalls.Create(_time, callback, state, dueTime, period);
        }

        using (ExecutionContext.SuppressFlow())
        {
            return TimerCalls.Create(_time, callback, state, dueTime, period);
        }
    }

    /// <summary>
    /// Converts a duration to TimeProvider ticks, saturating at a quarter of the range so that adding it to any
    /// timestamp cannot overflow: a timeout of <see cref="TimeSpan.MaxValue"/> simply never comes.
    /// </summary>
    private long ToTimestampTicks(TimeSpan span)
    {
        double ticks = span.Ticks * ((double)_time.TimestampFrequency / TimeSpan.TicksPerSecond);
        return ticks >= long.MaxValue / 4 ? long.MaxValue / 4 : (long)ticks;
    }

    private TimeSpan FromTimestampTicks(long ticks)
    {
        double span = Math.Ceiling(ticks * ((double)TimeSpan.TicksPerSecond / _time.TimestampFrequency));
        return span >= TimeSpan.MaxValue.Ticks ? TimeSpan.MaxValue : TimeSpan.FromTicks((long)span);
    }

    /// <summary>
    /// Arms a one-shot timer, clamping the delay to what timers accept (about 49.7 days). A clamped timer fires early;
    /// every timer callback here re-checks its own deadline and re-arms for the rest. Called without the lock.
    /// </summary>
    private static void Arm(ITimer timer, TimeSpan delay) => timer.Change(Clamp(delay), Timeout.InfiniteTimeSpan);

    /// <summary>As <see cref="Arm"/>, under the lock: a callback the clock runs at once waits for the lock's release.</summary>
    private void ArmLocked(ITimer timer, TimeSpan delay) => TimerCalls.ChangeLocked(timer, Clamp(delay), Timeout.InfiniteTimeSpan, _lock);

    private static TimeSpan Clamp(TimeSpan delay) => delay > MaxTimerDelay ? MaxTimerDelay : delay < TimeSpan.Zero ? TimeSpan.Zero : delay;
}
