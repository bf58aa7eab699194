using System.Globalization;

namespace Lifeguard;

/// <summary>
/// Something that happened in a pool: a worker started, died, was recycled, dismissed, killed or stopped; the pool
/// entered or left backoff, was resized or stopped. Received through <see cref="IPool.SubscribeToEvents"/> or
/// <see cref="PoolRegistry.SubscribeToEvents"/>. Immutable; one instance is shared by every subscriber.
/// </summary>
/// <remarks>
/// The structured members that do not apply to a <see cref="Kind"/> are <see langword="null"/> (or, for
/// <see cref="OutputTail"/>, empty); <see cref="Detail"/> always says what happened in a sentence.
/// </remarks>
public sealed class PoolEvent
{
    internal PoolEvent(long sequence, DateTimeOffset time, string poolName, PoolEventDraft draft)
    {
        Sequence = sequence;
        Time = time;
        PoolName = poolName;
        Kind = draft.Kind;
        WorkerId = draft.WorkerId;
        ProcessId = draft.ProcessId;
        Detail = draft.Detail;
        StopReason = draft.StopReason;
        Error = draft.Error;
        Size = draft.Size;
        MaxOverflow = draft.MaxOverflow;
        Source = draft.Source;
        if (draft.Error is IWorkerExitDetails exit)
        {
            ExitCode = exit.ExitCode;
            Signal = exit.Signal;
            OutputTail = exit.OutputTail;
        }
    }

    /// <summary>
    /// The event's number within its pool: 1 for the first event published, then one more for each. Subscribers see
    /// a pool's events in this order; a gap means events were dropped (<see cref="PoolEventSubscription.DroppedCount"/>).
    /// </summary>
    public long Sequence { get; }

    /// <summary>When it was published, by the pool's <see cref="PoolOptions.TimeProvider"/>.</summary>
    public DateTimeOffset Time { get; }

    /// <summary>The pool's name.</summary>
    public string PoolName { get; }

    /// <summary>What happened.</summary>
    public PoolEventKind Kind { get; }

    /// <summary>The worker concerned (<see cref="WorkerStatus.Id"/>), for the worker kinds; <see langword="null"/> for pool events.</summary>
    public int? WorkerId { get; }

    /// <summary>The worker's operating-system process id, when it has one (<see cref="IWorkerStatusProvider.ProcessId"/>).</summary>
    public int? ProcessId { get; }

    /// <summary>What happened, in a sentence, for people.</summary>
    public string Detail { get; }

    /// <summary>Why the worker left, for <see cref="PoolEventKind.WorkerDied"/>, <c>WorkerKilled</c>, <c>WorkerRecycled</c>, <c>WorkerDismissed</c> and <c>WorkerStopped</c>.</summary>
    public WorkerStopReason? StopReason { get; }

    /// <summary>
    /// The process's exit code, for a death or kill that the worker reported with exit details
    /// (<see cref="IWorkerExitDetails"/>; a Python worker does); 128 + n for a process killed by signal n.
    /// </summary>
    public int? ExitCode { get; }

    /// <summary>The signal that killed the process (9 for SIGKILL), when the worker reported one.</summary>
    public int? Signal { get; }

    /// <summary>The last lines the worker's process wrote before it died (a Python worker's stderr), oldest first; otherwise empty.</summary>
    public IReadOnlyList<string> OutputTail { get; } = [];

    /// <summary>
    /// The error behind the event: why a worker died or failed to start, what a failing stop threw, the last failure
    /// for <see cref="PoolEventKind.BackoffEntered"/>.
    /// </summary>
    public Exception? Error { get; }

    /// <summary>The new <see cref="PoolOptions.Size"/>, for <see cref="PoolEventKind.Resized"/>.</summary>
    public int? Size { get; }

    /// <summary>The new <see cref="PoolOptions.MaxOverflow"/>, for <see cref="PoolEventKind.Resized"/>.</summary>
    public int? MaxOverflow { get; }

    /// <summary>
    /// Who asked, for the operator actions (<see cref="PoolEventKind.Resized"/>, <c>RecycleRequested</c>,
    /// <c>WorkerKilled</c>): the caller's own string, e.g. <c>"configuration"</c> when Lifeguard.Hosting resizes a
    /// pool after its configuration was reloaded; <see langword="null"/> when the caller gave none.
    /// </summary>
    public string? Source { get; }

    /// <inheritdoc />
    public override string ToString()
        => string.Create(CultureInfo.InvariantCulture, $"{Time:O} pool '{PoolName}' #{Sequence} {Kind}: {Detail}");
}

/// <summary>The fields of an event before the hub numbers and timestamps it. A plain value.</summary>
internal struct PoolEventDraft
{
    public PoolEventKind Kind;
    public int? WorkerId;
    public int? ProcessId;
    public string Detail;
    public WorkerStopReason? StopReason;
    public Exception? Error;
    public int? Size;
    public int? MaxOverflow;
    public string? Source;
}
