using System.Diagnostics;
using System.Globalization;

namespace Lifeguard;

/// <summary>
/// Events and operator kills. Every event is built and published after the lock is released (from
/// <see cref="Run"/>, or by the start, stop or call that decided it), and only when someone subscribes
/// (<see cref="PoolEventHub.IsActive"/>): with nobody listening no event is allocated and no clock is read.
/// </summary>
internal sealed partial class PoolCore<TWorker>
{
    /// <summary>How long a kill waits for a killed worker to report its death before the pool reports it itself.</summary>
    private static readonly TimeSpan KillReportTimeout = TimeSpan.FromSeconds(5);

    public PoolEventHub EventHub => _events;

    public PoolEventSubscription SubscribeToEvents(int capacity) => _events.Subscribe(capacity);

    /// <summary>
    /// Kills a listed worker: through the factory's <see cref="IWorkerKiller{TWorker}"/> when it has one (the worker
    /// reports its own death, with its exit details), else by reporting it terminated. Completes once the worker has
    /// left the pool. An operator's kill is not a failure: it counts towards neither the deaths nor the restart
    /// intensity, and the worker is replaced as after any death.
    /// </summary>
    public async Task<WorkerKillResult> KillWorkerAsync(int workerId, string? source, CancellationToken cancellationToken)
    {
        cancellationToken.ThrowIfCancellationRequested();
        WorkerSlot<TWorker>? slot = null;
        bool first;
        Task gone;
        using (_lock.EnterScope())
        {
            if (_stopping)
            {
                return WorkerKillResult.PoolStopped;
            }

            foreach (var s in _workers)
            {
                if (s.Id == workerId)
                {
                    slot = s;
                    break;
                }
            }

            if (slot is null)
            {
                return WorkerKillResult.NotFound;
            }

            first = !slot.KillRequested;
            if (first)
            {
                slot.KillRequested = true;
                slot.KillSource = source;
            }

            // Completed by Run when the slot leaves the pool, whatever the reason it finally leaves with.
            slot.KillDone ??= new TaskCompletionSource(TaskCreationOptions.RunContinuationsAsynchronously);
            gone = slot.KillDone.Task;
        }

        if (first)
        {
            Log.WorkerKillRequested(_logger, Name, workerId, source ?? "(none)");
            if (_killer is not null && slot.Worker is { } worker)
            {
                try
                {
                    _killer.Kill(worker);
                }
                catch (Exception e)
                {
                    // The worker could not be killed its own way: the pool still treats it as dead.
                    Log.WorkerKillFailed(_logger, Name, workerId, e);
                    slot.Context.ReportTerminated(ExceptionFactory.WorkerKilled(Name, workerId, source, e));
                }
            }
            else
            {
                slot.Context.ReportTerminated(ExceptionFactory.WorkerKilled(Name, workerId, source, null));
            }
        }

        if (!gone.IsCompleted)
        {
            try
            {
                await gone.WaitAsync(KillReportTimeout, _time, cancellationToken).ConfigureAwait(false);
            }
            catch (TimeoutException)
            {
                // Killed, but it has not said so: a worker that fails to report must still leave the pool.
                slot.Context.ReportTerminated(ExceptionFactory.WorkerKilled(Name, workerId, source, null));
                await gone.WaitAsync(cancellationToken).ConfigureAwait(false);
            }
        }

        return WorkerKillResult.Killed;
    }

    /// <summary>A slot has left the pool (its stop is about to be queued): complete a kill's wait and announce why. After the lock.</summary>
    private void OnLeft(WorkerSlot<TWorker> slot, WorkerStopReason stopReason)
    {
        slot.KillDone?.TrySetResult();
        if (!_events.IsActive)
        {
            return;
        }

        var error = slot.ExitError;
        var (kind, detail) = stopReason switch
        {
            WorkerStopReason.Died => (PoolEventKind.WorkerDied, $"{WorkerName(slot)} died: {Describe(error)}"),
            WorkerStopReason.Abandoned => (PoolEventKind.WorkerDied, $"{WorkerName(slot)} was reclaimed from a lease that was never disposed, and is replaced."),
            WorkerStopReason.Killed => (PoolEventKind.WorkerKilled, $"{WorkerName(slot)} was killed{By(slot.KillSource)}: {Describe(error)}"),
            WorkerStopReason.Retired => (PoolEventKind.WorkerRecycled, $"{WorkerName(slot)} was retired to be replaced (recycling)."),
            WorkerStopReason.Dismissed => (PoolEventKind.WorkerDismissed, $"{WorkerName(slot)} was dismissed as surplus."),
            _ => (default(PoolEventKind?), ""),
        };
        if (kind is { } k)
        {
            Publish(k, slot, stopReason, error, detail, stopReason == WorkerStopReason.Killed ? slot.KillSource : null);
        }
    }

    private void PublishStarted(WorkerSlot<TWorker> slot, TimeSpan elapsed)
        => Publish(
            PoolEventKind.WorkerStarted,
            slot,
            stopReason: null,
            error: null,
            string.Create(CultureInfo.InvariantCulture, $"{WorkerName(slot)} started in {elapsed.TotalMilliseconds:0.#} ms."));

    private void PublishStartFailed(int workerId, Exception error)
    {
        var draft = new PoolEventDraft
        {
            Kind = PoolEventKind.WorkerStartFailed,
            WorkerId = workerId,
            Detail = $"Worker {workerId} failed to start: {Describe(error)}",
            Error = error,
        };
        AssertNotLocked();
        _events.Publish(draft);
    }

    private void PublishStopped(WorkerSlot<TWorker> slot, WorkerStopReason stopReason, Exception? failure)
    {
        var detail = failure is null
            ? $"{WorkerName(slot)} stopped ({Describe(stopReason)})."
            : $"{WorkerName(slot)} was to stop ({Describe(stopReason)}), but its stop failed: {Describe(failure)}";
        Publish(PoolEventKind.WorkerStopped, slot, stopReason, failure ?? (stopReason is WorkerStopReason.Died or WorkerStopReason.Killed ? slot.ExitError : null), detail);
    }

    private void PublishPool(PoolEventKind kind, string detail, Exception? error = null, int? size = null, int? maxOverflow = null, string? source = null)
    {
        var draft = new PoolEventDraft { Kind = kind, Detail = detail, Error = error, Size = size, MaxOverflow = maxOverflow, Source = source };
        AssertNotLocked();
        _events.Publish(draft);
    }

    private void Publish(PoolEventKind kind, WorkerSlot<TWorker> slot, WorkerStopReason? stopReason, Exception? error, string detail, string? source = null)
    {
        var draft = new PoolEventDraft
        {
            Kind = kind,
            WorkerId = slot.Id,
            ProcessId = slot.ProcessId,
            Detail = detail,
            StopReason = stopReason,
            Error = error,
            Source = source,
        };
        AssertNotLocked();
        _events.Publish(draft);
    }

    /// <summary>Events are published after the lock is released, never under it (checked in every debug test run).</summary>
    [Conditional("DEBUG")]
    private void AssertNotLocked()
    {
#if DEBUG
        Debug.Assert(!_lock.IsHeldByCurrentThread, "events are published outside the pool's lock");
#endif
    }

    /// <summary>The worker's process id, asked once after its start; a provider that throws has none.</summary>
    private int? ReadProcessId(TWorker worker)
    {
        try
        {
            return (worker as IWorkerStatusProvider)?.ProcessId;
        }
        catch (Exception)
        {
            return null;
        }
    }

    private static string WorkerName(WorkerSlot<TWorker> slot)
        => slot.ProcessId is { } pid
            ? string.Create(CultureInfo.InvariantCulture, $"Worker {slot.Id} (pid {pid})")
            : string.Create(CultureInfo.InvariantCulture, $"Worker {slot.Id}");

    private static string By(string? source) => source is null ? "" : $" by {source}";

    /// <summary>An error in a line: exit code and signal when known, else its first line.</summary>
    private static string Describe(Exception? error)
    {
        if (error is null)
        {
            return "no reason given.";
        }

        if (error is IWorkerExitDetails { ExitCode: { } code } exit)
        {
            return exit.Signal is { } signal
                ? string.Create(CultureInfo.InvariantCulture, $"killed by signal {signal} (exit code {code}).")
                : string.Create(CultureInfo.InvariantCulture, $"exit code {code}.");
        }

        var message = error.Message;
        int newline = message.IndexOf('\n', StringComparison.Ordinal);
        return newline < 0 ? message : message[..newline].TrimEnd() + " …";
    }

    private static string Describe(WorkerStopReason reason) => reason switch
    {
        WorkerStopReason.PoolStopped => "the pool stopped",
        WorkerStopReason.Abandoned => "abandoned lease",
        _ => reason.ToString().ToLowerInvariant(),
    };

    /// <summary>A stop reason as the metrics' exit-reason tag and the log show it.</summary>
    private static string ReasonTag(WorkerStopReason reason) => reason switch
    {
        WorkerStopReason.Died => "died",
        WorkerStopReason.Broken => "broken",
        WorkerStopReason.Retired => "retired",
        WorkerStopReason.Dismissed => "dismissed",
        WorkerStopReason.Abandoned => "abandoned",
        WorkerStopReason.Killed => "killed",
        _ => "stopped",
    };
}
