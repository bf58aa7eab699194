namespace Lifeguard;

/// <summary>
/// Implemented by a worker that reports facts of its own in the pool's status snapshot and events: typed ones (a
/// process id, resident memory, the current call, the tail of its output) through the members with defaults, anything
/// else through <see cref="AddStatusDetails"/>. Called from any thread while the worker may be in use, never under the pool's
/// lock; must be thread-safe and cheap.
/// </summary>
public interface IWorkerStatusProvider
{
    /// <summary>
    /// The worker's operating-system process id, or <see langword="null"/> (the default) if it is not a process.
    /// Read once, right after the worker started; shown in <see cref="WorkerStatus.ProcessId"/> and
    /// <see cref="PoolEvent.ProcessId"/>.
    /// </summary>
    int? ProcessId => null;

    /// <summary>Adds this worker's details to <paramref name="details"/> (<see cref="WorkerStatus.Details"/>).</summary>
    void AddStatusDetails(IDictionary<string, object?> details);

    /// <summary>
    /// Reads the worker's resident memory in bytes, or returns <see langword="null"/> (the default) if it is unknown.
    /// Called only when a status snapshot is taken (<see cref="WorkerStatus.ResidentMemoryBytes"/>).
    /// </summary>
    long? GetResidentMemoryBytes() => null;

    /// <summary>
    /// The call the worker is running now, or <see langword="null"/> (the default) when it runs none or cannot say.
    /// Called only when a status snapshot is taken (<see cref="WorkerStatus.CurrentCall"/>).
    /// </summary>
    WorkerCall? GetCurrentCall() => null;

    /// <summary>
    /// The last lines the worker's process wrote (a Python worker's stderr, which carries its <c>print()</c> output),
    /// oldest first, or an empty list (the default) when it keeps none. Called only when a status snapshot is taken
    /// (<see cref="WorkerStatus.OutputTail"/>); return a copy, bounded in lines and in length.
    /// </summary>
    IReadOnlyList<string> GetOutputTail() => [];
}
