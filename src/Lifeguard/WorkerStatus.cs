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
    IReadOnlyDictionary<string, object?> Details);
