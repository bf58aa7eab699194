namespace Lifeguard.Python;

/// <summary>
/// The Python process died (exited, was killed, or was stopped for breaking the protocol) while serving a call. The
/// pool replaces it. Carries the exit code, the signal when there was one, and the last lines the process wrote.
/// </summary>
public sealed class PythonWorkerCrashedException : LifeguardException, IWorkerExitDetails
{
    private IReadOnlyList<string>? _outputTail;

    /// <summary>Creates an exception with no message.</summary>
    public PythonWorkerCrashedException()
    {
    }

    /// <summary>Creates an exception with a message.</summary>
    public PythonWorkerCrashedException(string message)
        : base(message)
    {
    }

    /// <summary>Creates an exception with a message and a cause.</summary>
    public PythonWorkerCrashedException(string message, Exception? innerException)
        : base(message, innerException)
    {
    }

    internal PythonWorkerCrashedException(string message, string? poolName, int processId, int? exitCode, int? signal, string stderrTail, Exception? inner = null)
        : base(message, poolName, inner)
    {
        ProcessId = processId;
        ExitCode = exitCode;
        Signal = signal;
        StderrTail = stderrTail;
    }

    /// <summary>The process id of the worker that died.</summary>
    public int ProcessId { get; }

    /// <summary>The exit code, when the process has exited; 128 + n for a process killed by signal n.</summary>
    public int? ExitCode { get; }

    /// <summary>The signal that killed the process (9 for SIGKILL), when it was killed by one.</summary>
    public int? Signal { get; }

    /// <summary>The last lines the process wrote to stdout and stderr.</summary>
    public string StderrTail { get; } = "";

    /// <inheritdoc />
    IReadOnlyList<string> IWorkerExitDetails.OutputTail
        => _outputTail ??= StderrTail.Length == 0 ? [] : StderrTail.Split('\n');
}
