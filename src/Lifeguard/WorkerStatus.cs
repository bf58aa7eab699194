namespace Lifeguard;

/// <summary>One worker in a <see cref="PoolStatus"/> snapshot.</summary>
/// <param name="Id">The worker's id within its pool.</param>
/// <param name="State">Idle or busy.</param>
/// <param name="Uses">How many leases it has served, including a current one.</param>
/// <param name="Age">How long ago it started.</param>
/// <param name="RetirePending">Whether it will be retired at its next checkin (recycling).</param>
/// <param name="Details">What the worker reports of itself through <see cref="IWorkerStatusProvider"/>; empty otherwise.</param>
public sealed record WorkerStatus(
    int Id,
    WorkerState State,
    long Uses,
    TimeSpan Age,
    bool RetirePending,
    IReadOnlyDictionary<string, object?> Details)
{
    /// <summary>
    /// The worker's slot (<see cref="WorkerContext.Slot"/>): from 0 up to <c>Size + MaxOverflow − 1</c>, kept by its
    /// replacements. Two workers share a slot while one's replacement starts before it leaves.
    /// </summary>
    public int Slot { get; init; }

    /// <summary>
    /// The pool's code generation (<see cref="PoolStatus.Generation"/>) when the worker's start began; lower than the
    /// pool's for a worker a reload is replacing.
    /// </summary>
    public int Generation { get; init; } = 1;

    /// <summary>The worker's operating-system process id (<see cref="IWorkerStatusProvider.ProcessId"/>); <see langword="null"/> if it has none.</summary>
    public int? ProcessId { get; init; }

    /// <summary>
    /// The worker's resident memory in bytes, read when the snapshot was taken
    /// (<see cref="IWorkerStatusProvider.GetResidentMemoryBytes"/>); <see langword="null"/> if unknown.
    /// </summary>
    public long? ResidentMemoryBytes { get; init; }

    /// <summary>The call the worker was running when the snapshot was taken (<see cref="IWorkerStatusProvider.GetCurrentCall"/>); <see langword="null"/> if none or unknown.</summary>
    public WorkerCall? CurrentCall { get; init; }

    /// <summary>
    /// The last lines the worker's process wrote, oldest first, read when the snapshot was taken
    /// (<see cref="IWorkerStatusProvider.GetOutputTail"/>; a Python worker's stderr, up to
    /// <c>PythonPoolOptions.StderrTailLines</c> lines); empty if it keeps none. Text the worker wrote: show it as text.
    /// </summary>
    public IReadOnlyList<string> OutputTail { get; init; } = [];
}
