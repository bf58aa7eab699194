namespace Lifeguard;

/// <summary>
/// Implemented by an exception that says how a worker's process ended. When a worker reports its death
/// (<see cref="WorkerContext.ReportTerminated"/>) with such an exception, the pool copies these into its
/// <see cref="PoolEventKind.WorkerDied"/> or <see cref="PoolEventKind.WorkerKilled"/> event.
/// </summary>
public interface IWorkerExitDetails
{
    /// <summary>The process's exit code, when it has exited; 128 + n for a process killed by signal n.</summary>
    int? ExitCode { get; }

    /// <summary>The signal that killed the process (9 for SIGKILL), when one did.</summary>
    int? Signal { get; }

    /// <summary>The last lines the process wrote (its stderr), oldest first; empty when it wrote none.</summary>
    IReadOnlyList<string> OutputTail { get; }
}
