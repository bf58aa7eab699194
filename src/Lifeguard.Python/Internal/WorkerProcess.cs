namespace Lifeguard.Python;

/// <summary>
/// A worker's operating-system process as its <see cref="PythonWorker"/> sees it: the protocol streams, its output,
/// its exit, signals and memory. Spawned (<see cref="SpawnedWorkerProcess"/>) or forked by the pool's fork server
/// (<see cref="ForkedWorkerProcess"/>). Thread-safe.
/// </summary>
internal abstract class WorkerProcess : IDisposable
{
    /// <summary>The process id.</summary>
    public abstract int Id { get; }

    /// <summary>Where the host writes frames.</summary>
    public abstract Stream Input { get; }

    /// <summary>Where the host reads frames.</summary>
    public abstract Stream Output { get; }

    /// <summary>The worker's stderr, which also carries its stdout.</summary>
    public abstract Stream Error { get; }

    /// <summary>
    /// The exit code once the process has exited (128 + the signal for a process a signal killed), -1 while it runs
    /// or when nobody could tell.
    /// </summary>
    public abstract int ExitCode { get; }

    /// <summary>The memory <see cref="PythonPoolOptions.MaxWorkerMemory"/> is compared with, in bytes; null if unreadable.</summary>
    public abstract long? CeilingMemoryBytes { get; }

    /// <summary>Calls <paramref name="onExit"/> once, when the process has exited (at once if it has already).</summary>
    public abstract void OnExit(Action onExit);

    /// <summary>Ends the host's side of the input: the runtime exits at the end of its input.</summary>
    public abstract void CloseInput();

    /// <summary>SIGKILL, to this process only; nothing if it is gone.</summary>
    public abstract void Kill();

    /// <summary>Sends <paramref name="signal"/> to this process only; false if it is gone.</summary>
    public abstract bool TrySignal(int signal);

    /// <inheritdoc />
    public abstract void Dispose();
}
