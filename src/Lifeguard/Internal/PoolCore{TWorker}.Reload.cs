namespace Lifeguard;

/// <summary>
/// Rolling reload with rollback: a canary started from the current code, then every old worker replaced by one of the
/// new generation, each replacement started before its worker leaves. The pool never runs more than one worker over
/// its cap for it.
/// </summary>
internal sealed partial class PoolCore<TWorker>
{
    // _reloadGate serializes reloads; the rest is guarded by _lock.
    private readonly SemaphoreSlim _reloadGate = new(1, 1);
    private RollOut? _rollOut;
    private (RollOut RollOut, TaskCompletionSource Canary)? _pendingCanary; // waiting for room: at most one over the cap
    private int _reservedStarts; // starts in flight that have their slot number and generation (after the fill)
    private int _staleStarts; // of those, the ones of a generation before the pool's

    /// <summary>A roll-out in progress: completed once no worker of an older generation is idle or starting.</summary>
    private sealed class RollOut(int generation)
    {
        public int Generation { get; } = generation;

        public TaskCompletionSource Done { get; } = new(TaskCreationOptions.RunContinuationsAsynchronously);
    }

    /// <summary>The pool's code generation: 1 at the start, one more for each reload whose canary started.</summary>
    public int Generation => Volatile.Read(ref _generation);

    /// <summary>
    /// Reloads: after <paramref name="prepare"/> (a Python pool rebuilds its fork-server template), a canary worker of
    /// the next generation starts, in place of an old worker (its slot). If its start fails nothing changes and this
    /// throws the start's exception. Else the generation moves on and every old worker is replaced, idle ones at once
    /// and busy ones before or at their checkin; returns once no old worker is idle or starting. Reloads run one at a
    /// time; <paramref name="cancellationToken"/> stops the wait (and a wait for an earlier reload, or for room for
    /// the canary, which is then withdrawn), not a reload whose canary has started.
    /// </summary>
    public async Task ReloadAsync(string? source, Func<CancellationToken, Task>? prepare, CancellationToken cancellationToken)
    {
        ThrowIfStopping();
        await _reloadGate.WaitAsync(cancellationToken).ConfigureAwait(false);
        try
        {
            ThrowIfStopping();
            if (prepare is not null)
            {
                await prepare(cancellationToken).ConfigureAwait(false);
            }

            var canary = new TaskCompletionSource(TaskCreationOptions.RunContinuationsAsynchronously);
            RollOut rollOut;
            var fx = default(Effects);
            using (_lock.EnterScope())
            {
                if (_stopping)
                {
                    throw ExceptionFactory.Stopped(Name);
                }

                rollOut = new RollOut(_generation + 1);
                _pendingCanary = (rollOut, canary);
                StartPendingCanaryLocked(ref fx);
                AssertInvariantsLocked();
            }

            Log.ReloadStarted(_logger, Name, rollOut.Generation);
            if (_events.IsActive)
            {
                PublishPool(
                    PoolEventKind.RecycleRequested,
                    string.Create(
                        System.Globalization.CultureInfo.InvariantCulture,
                        $"Reloading{By(source)}: a canary of generation {rollOut.Generation} is starting; if it starts, every older worker is replaced."),
                    source: source);
            }

            Run(ref fx);
            try
            {
                await canary.Task.WaitAsync(cancellationToken).ConfigureAwait(false);
            }
            catch (OperationCanceledException) when (cancellationToken.IsCancellationRequested)
            {
                // A canary still waiting for room is withdrawn: nothing has changed. One that started goes on.
                using (_lock.EnterScope())
                {
                    if (_pendingCanary?.Canary == canary)
                    {
                        _pendingCanary = null;
                    }
                }

                throw;
            }
            catch (Exception e)
            {
                if (e is not PoolStoppedException)
                {
                    Log.ReloadFailed(_logger, Name, rollOut.Generation, e);
                }

                throw;
            }

            await rollOut.Done.Task.WaitAsync(cancellationToken).ConfigureAwait(false);
            Log.Reloaded(_logger, Name, rollOut.Generation);
        }
        finally
        {
            _reloadGate.Release();
        }
    }

    private void ThrowIfStopping()
    {
        if (Volatile.Read(ref _stopping))
        {
            throw ExceptionFactory.Stopped(Name);
        }
    }

    /// <summary>
    /// Starts the canary waiting for room: the pool may run one over its cap for it, never more (a worker whose
    /// replacement has joined, still leased, counts until its checkin).
    /// </summary>
    private void StartPendingCanaryLocked(ref Effects fx)
    {
        if (_pendingCanary is { } pending && !_stopping && LiveLocked <= CapLocked)
        {
            _pendingCanary = null;
            StartCanaryLocked(pending.RollOut, pending.Canary, ref fx);
        }
    }

    /// <summary>
    /// The canary: a replacement of the next generation for an old worker (idle if any, else busy), sharing its slot;
    /// with no old worker to replace, a new worker in the lowest free slot. It may take the pool one over its cap.
    /// </summary>
    private void StartCanaryLocked(RollOut rollOut, TaskCompletionSource canary, ref Effects fx)
    {
        WorkerSlot<TWorker>? predecessor = null;
        foreach (var slot in _workers)
        {
            if (slot.Successor == SuccessorState.None && (predecessor is null || slot.State == SlotState.Idle))
            {
                predecessor = slot;
                if (slot.State == SlotState.Idle)
                {
                    break;
                }
            }
        }

        int number;
        if (predecessor is not null)
        {
            predecessor.Successor = SuccessorState.Starting;
            _warmPairs++;
            number = predecessor.Number;
            _slotNumbers.Hold(number);
        }
        else
        {
            number = _slotNumbers.Reserve(CapLocked);
        }

        _starting++;
        _pending++;
        _reservedStarts++;
        (fx.Successors ??= []).Add(new SuccessorStart(predecessor, number, rollOut.Generation, rollOut, canary));
    }

    /// <summary>
    /// The canary is up (under the lock, before it is admitted): the generation moves on, and the roll-out begins.
    /// </summary>
    private void OnCanaryStartedLocked(RollOut rollOut)
    {
        _generation = rollOut.Generation;
        _staleStarts = _reservedStarts; // every start still in flight began before this generation
        _rollOut?.Done.TrySetResult(); // an earlier roll-out nobody waits for any more: this one supersedes it
        _rollOut = rollOut;
    }

    /// <summary>
    /// Moves a roll-out on: replacements for old workers without one, idle ones first; a busy one only while the pool
    /// is under its cap, an idle one also at it (one over, as the canary). Completes the roll-out once no old worker
    /// is idle or starting. Called by every transition that may start a worker (<see cref="ReconcileLocked"/>).
    /// </summary>
    private void AdvanceReloadLocked(ref Effects fx)
    {
        StartPendingCanaryLocked(ref fx);
        if (_rollOut is not { } rollOut)
        {
            return;
        }

        while (!_stopping && !_backoff && LiveLocked <= CapLocked)
        {
            var old = FindOldLocked(idleOnly: true) ?? (LiveLocked < CapLocked ? FindOldLocked(idleOnly: false) : null);
            if (old is null)
            {
                break;
            }

            old.RetirePending = true;
            StartSuccessorLocked(old, ref fx);
        }

        if (_staleStarts == 0 && !HasOldIdleLocked())
        {
            _rollOut = null;
            (fx.RollOutsDone ??= []).Add(rollOut);
        }
    }

    /// <summary>A listed worker of an older generation with no replacement on the way.</summary>
    private WorkerSlot<TWorker>? FindOldLocked(bool idleOnly)
    {
        foreach (var slot in idleOnly ? _idle : _workers)
        {
            if (slot.Generation != _generation && slot.Successor == SuccessorState.None)
            {
                return slot;
            }
        }

        return null;
    }

    private bool HasOldIdleLocked()
    {
        foreach (var slot in _idle)
        {
            if (slot.Generation != _generation)
            {
                return true;
            }
        }

        return false;
    }

    /// <summary>For the metrics gauges: how many idle and busy workers each generation has, taken under the lock.</summary>
    public IReadOnlyList<(int Generation, int Workers)> WorkersByGeneration
    {
        get
        {
            var counts = new List<(int Generation, int Workers)>(2);
            using (_lock.EnterScope())
            {
                foreach (var slot in _workers)
                {
                    int i = counts.FindIndex(c => c.Generation == slot.Generation);
                    if (i < 0)
                    {
                        counts.Add((slot.Generation, 1));
                    }
                    else
                    {
                        counts[i] = (slot.Generation, counts[i].Workers + 1);
                    }
                }
            }

            return counts;
        }
    }

    /// <summary>A start with its slot number and generation ended (under the lock).</summary>
    private void EndReservedStartLocked(int generation)
    {
        _reservedStarts--;
        if (generation < _generation && _staleStarts > 0)
        {
            _staleStarts--;
        }
    }
}
