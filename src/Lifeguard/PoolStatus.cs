namespace Lifeguard;

/// <summary>
/// A consistent snapshot of a pool (poolboy's <c>status/1</c>, with waiters and more). All counts were read at the
/// same instant. <c>Live = Idle + Busy + Starting</c> is what counts against the cap <c>Size + MaxOverflow</c>, and
/// <c>Overflow = max(0, Live - Size)</c>.
/// </summary>
public sealed record PoolStatus
{
    /// <summary>The pool's name.</summary>
    public required string Name { get; init; }

    /// <summary>Ready, Overflow, Full, Backoff or Stopped.</summary>
    public required PoolState State { get; init; }

    /// <summary>The base number of workers.</summary>
    public required int Size { get; init; }

    /// <summary>How many workers beyond <see cref="Size"/> may run.</summary>
    public required int MaxOverflow { get; init; }

    /// <summary>Workers ready to be checked out.</summary>
    public required int Idle { get; init; }

    /// <summary>Workers checked out.</summary>
    public required int Busy { get; init; }

    /// <summary>Workers being started.</summary>
    public required int Starting { get; init; }

    /// <summary>Idle + busy + starting: the workers that count against the cap.</summary>
    public int Live => Idle + Busy + Starting;

    /// <summary>How far <see cref="Live"/> exceeds <see cref="Size"/> (never negative).</summary>
    public int Overflow => Math.Max(0, Live - Size);

    /// <summary>Callers queued for a worker.</summary>
    public required int Waiters { get; init; }

    /// <summary>Successful checkouts since the pool started.</summary>
    public required long TotalCheckouts { get; init; }

    /// <summary>Checkouts that timed out.</summary>
    public required long TotalTimeouts { get; init; }

    /// <summary>Checkouts rejected because <see cref="PoolOptions.MaxWaiters"/> callers already waited.</summary>
    public required long TotalRejections { get; init; }

    /// <summary>
    /// Starts that replaced a worker which left for a reason other than dismissal as surplus: it died, was checked in
    /// broken, failed validation, was reclaimed from an abandoned lease, or was recycled.
    /// </summary>
    public required long TotalRestarts { get; init; }

    /// <summary>Every successful worker start, the initial fill's included.</summary>
    public long TotalStarts { get; init; }

    /// <summary>
    /// Workers due to retire whose replacement was started before they leave (warm recycling, reload): each is counted
    /// in <see cref="Idle"/> or <see cref="Busy"/> with its replacement in <see cref="Starting"/> or also listed, so the
    /// pool runs one over its size for each, and a surplus is <c>Live − Replacing − Size</c>.
    /// </summary>
    public int Replacing { get; init; }

    /// <summary>
    /// The pool's code generation: 1 when it starts, one more for each <c>ReloadAsync</c> whose canary started. Each
    /// worker's <see cref="WorkerStatus.Generation"/> is the generation it was started in.
    /// </summary>
    public int Generation { get; init; } = 1;

    /// <summary>Workers whose stop has begun and not finished, whatever the reason (dismissed, retired, died, ...).</summary>
    public int Stopping { get; init; }

    /// <summary>Unexpected worker deaths (reported, failed validation, or reclaimed from an abandoned lease).</summary>
    public required long TotalDeaths { get; init; }

    /// <summary>Worker starts that failed.</summary>
    public required long TotalStartFailures { get; init; }

    /// <summary>The most recent start failure or death reason, if any.</summary>
    public Exception? LastFailure { get; init; }

    /// <summary>
    /// The pool's measured load and the sizing advice it implies, once at least a second has been measured and a lease
    /// sampled; otherwise <see langword="null"/>.
    /// </summary>
    public SizingObservation? Sizing { get; init; }

    /// <summary>Every idle and busy worker.</summary>
    public required IReadOnlyList<WorkerStatus> Workers { get; init; }

    /// <inheritdoc />
    public override string ToString()
        => $"pool '{Name}' {State}: size {Size}, max overflow {MaxOverflow}, idle {Idle}, busy {Busy}, "
            + $"starting {Starting}, stopping {Stopping}, replacing {Replacing}, overflow {Overflow}, waiters {Waiters}";
}
