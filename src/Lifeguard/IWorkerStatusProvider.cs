namespace Lifeguard;

/// <summary>
/// Implemented by a worker that reports details of its own (a process id, memory, the current call) in the pool's
/// status snapshot. Called from any thread while the worker may be in use; must be thread-safe and cheap.
/// </summary>
public interface IWorkerStatusProvider
{
    /// <summary>Adds this worker's details to <paramref name="details"/>.</summary>
    void AddStatusDetails(IDictionary<string, object?> details);
}
