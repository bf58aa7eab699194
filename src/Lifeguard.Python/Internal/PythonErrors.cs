using System.Globalization;
using System.Text;

namespace Lifeguard.Python;

/// <summary>
/// Builds every exception a Python worker throws to its caller or reports to its pool, so that the wording stays
/// consistent (as the core's <c>ExceptionFactory</c> does for pools): errors read from error frames, crashes,
/// protocol violations, timeouts, stops and serialisation failures. The findings of the frame reader and the codec
/// (a <see cref="PythonProtocolException"/> that names no pool) are the reasons these carry. Stateless and thread-safe.
/// </summary>
internal static class PythonErrors
{
    /// <summary>
    /// The called Python code raised: the error frame's type, message and traceback. <paramref name="where"/> is the
    /// call as the message shows it: its name, with its arguments when they are included.
    /// </summary>
    public static PythonException Raised(string pool, string function, string where, ErrorReply error)
        => new($"{error.Type}: {error.Message} (in {where})", pool, error.Type, error.Message, error.Traceback, function);

    /// <summary>The worker answered its init with an error frame: its init function, a preload or a path failed.</summary>
    public static PythonStartException StartFailed(string pool, int pid, ErrorReply error)
        => new(
            $"Python worker {pid} of pool '{pool}' failed to start: {error.Type}: {error.Message}\n{error.Traceback}".TrimEnd(),
            pool,
            error.Type,
            error.Message,
            error.Traceback);

    /// <summary>A fork server's new template failed; its old one still forks.</summary>
    public static PythonStartException RebuildFailed(string pool, string reason, string? pythonType, string? pythonMessage, string? pythonTraceback)
        => pythonType is not null
            ? new(
                $"The fork server of pool '{pool}' could not rebuild its template, and still forks from the one it had: {pythonType}: {pythonMessage}\n{pythonTraceback}".TrimEnd(),
                pool,
                pythonType,
                pythonMessage ?? "",
                pythonTraceback ?? "")
            : new($"The fork server of pool '{pool}' could not rebuild its template, and still forks from the one it had: {reason}", pool);

    public static PythonStartException VirtualEnvironmentMissing(string pool, string venv)
        => new(
            $"The virtual environment '{venv}' of pool '{pool}' (PythonPoolOptions.VirtualEnvironment) does not exist. Create it (python3 -m venv {venv}, or uv venv {venv}), or correct the path.",
            pool);

    public static PythonStartException VirtualEnvironmentBroken(string pool, string venv, string link, string target)
        => new(
            $"The virtual environment '{venv}' of pool '{pool}' (PythonPoolOptions.VirtualEnvironment) is broken: its interpreter {link} links to {target}, which does not exist (the Python it was made from was moved or removed). Recreate the virtual environment.",
            pool);

    public static PythonStartException VirtualEnvironmentWithoutInterpreter(string pool, string venv, IEnumerable<string> candidates)
        => new(
            $"The virtual environment '{venv}' of pool '{pool}' (PythonPoolOptions.VirtualEnvironment) holds no Python interpreter: there is no {string.Join(" nor ", candidates)}. Is the folder a virtual environment (made by python3 -m venv or uv venv)?",
            pool);

    public static PythonStartException InterpreterNotStarted(string pool, string interpreter, Exception cause)
        => new($"Could not start the Python interpreter '{interpreter}': {cause.Message}", pool, cause);

    public static PythonStartException ExitedBeforeHandshake(string pool, int pid, int exitCode, string output, Exception? cause = null)
        => new(
            $"Python worker {pid} of pool '{pool}' exited (exit code {exitCode}) before its handshake. Its output:\n{output}".TrimEnd(),
            pool,
            cause);

    public static PythonStartException HandshakeTimedOut(string pool, int pid, TimeSpan startTimeout, string output)
        => new(
            $"Python worker {pid} of pool '{pool}' did not complete its handshake within {startTimeout} (StartTimeout). Its output:\n{output}".TrimEnd(),
            pool);

    public static PythonStartException ProtocolMismatch(string pool, int pid, int protocol, int hostProtocol, int oldestProtocol, string runtimeVersion)
        => new(
            $"Python worker {pid} of pool '{pool}' speaks protocol {protocol}; this host speaks protocol {hostProtocol} "
                + $"(and serves workers of protocol {oldestProtocol}). Its runtime ({runtimeVersion}) does not match this version of Lifeguard.Python.",
            pool);

    public static PythonProtocolException HandshakeViolation(string pool, int pid, PythonProtocolException finding)
        => new($"Python worker {pid} of pool '{pool}' broke the protocol during its handshake: {finding.Message.TrimEnd('.')}.", pool, finding);

    /// <summary>A frame the protocol does not allow; the worker is killed and replaced.</summary>
    public static PythonProtocolException Violation(string pool, int pid, string reason, Exception? inner)
        => new($"Python worker {pid} of pool '{pool}' broke the protocol: {reason.TrimEnd('.')}. It was killed and will be replaced.", pool, inner);

    /// <summary>
    /// The process is gone: its exit code, the signal that killed it, the call it ran and its last output.
    /// <paramref name="what"/> is what happened, after "Python worker N of pool 'p' ": "died", "exited", ....
    /// </summary>
    public static PythonWorkerCrashedException Crashed(string pool, int pid, string what, int exitCode, string? runningFunction, string tail, Exception? inner)
    {
        int? signal = exitCode > 128 && exitCode < 128 + 65 ? exitCode - 128 : null;
        var message = new StringBuilder()
            .Append(CultureInfo.InvariantCulture, $"Python worker {pid} of pool '{pool}' {what}")
            .Append(signal is { } s ? $" (killed by signal {s}{SignalName(s)}, exit code {exitCode})" : $" (exit code {exitCode})")
            .Append(runningFunction is not null ? $" while running {runningFunction}." : ".")
            .Append(tail.Length > 0 ? $" Last output:\n{tail}" : " It wrote nothing.")
            .ToString();
        return new PythonWorkerCrashedException(message, pool, pid, exitCode, signal, tail, inner);
    }

    public static PythonCallTimeoutException CallTimedOut(string pool, int pid, string function, TimeSpan callTimeout, bool sent, bool killed)
        => new(
            $"{function} on Python worker {pid} of pool '{pool}' did not finish within {callTimeout} (CallTimeout); "
                + (killed ? "it did not stop when interrupted, so the worker was killed and will be replaced."
                    : sent ? "it was interrupted and the worker kept." : "it was never sent, and the worker kept."),
            pool,
            function,
            callTimeout,
            killed);

    /// <summary>The interrupted call did not stop within the grace period; the worker was killed.</summary>
    public static PythonCallTimeoutException IgnoredInterrupt(string pool, int pid, string function, TimeSpan gracePeriod)
        => new(
            $"{function} on Python worker {pid} did not stop within {gracePeriod} of being interrupted (CancelGracePeriod); the worker was killed.",
            pool,
            function,
            gracePeriod,
            workerKilled: true);

    /// <summary>The worker did not answer its idle check's ping in time; the worker was killed.</summary>
    public static TimeoutException PingNotAnswered(string pool, int pid)
        => new($"Python worker {pid} of pool '{pool}' did not answer its idle check (a ping) within IdleCheckTimeout; the worker was killed.");

    /// <summary>The worker did not take a frame within the grace period of its call's cancellation; the worker was killed.</summary>
    public static PythonCallTimeoutException FrameNotTaken(string pool, int pid, TimeSpan gracePeriod)
        => new(
            $"Python worker {pid} of pool '{pool}' did not take a frame within {gracePeriod} of its call being cancelled (CancelGracePeriod); the worker was killed.",
            pool,
            "",
            gracePeriod,
            workerKilled: true);

    public static PoolStoppedException NotSentToStopped(string pool, int pid, string function)
        => new($"Python worker {pid} was stopped by pool '{pool}'; {function} was not sent.", pool);

    public static PoolStoppedException StoppedUnderCall(string pool, int pid, string function)
        => new(
            $"Pool '{pool}' stopped Python worker {pid} while it ran {function}: the pool is stopping and the call "
                + "outlasted its DrainTimeout, so the call was interrupted.",
            pool);

    public static InvalidOperationException AlreadyCalling(int pid)
        => new($"Python worker {pid} is already serving a call: a worker serves one call at a time. Use the pool, or await the previous call.");

    public static PythonModuleNotAllowedException ModuleNotAllowed(string pool, string module, string function)
        => new($"Module '{module}' is not in the module allowlist of pool '{pool}' (AllowedModules); {function} was not called.", pool);

    public static PythonModuleNotAllowedException NotPublic(string pool, string function)
        => new(
            $"{function} is not a public function (its name starts with '_'): with AllowedModules set, only the public functions of the "
                + "allowed modules can be called; it was not called.",
            pool);

    public static KeyNotFoundException NoSuchCallback(string name)
        => new($"No host callback named '{name}' is registered (PythonPoolOptions.Callbacks).");

    /// <summary>
    /// The arguments could not be written. <paramref name="where"/> is the argument, "positional argument 1 (Double)",
    /// or empty when none was being written.
    /// </summary>
    public static PythonSerializationException ArgumentsNotSerialised(string pool, string function, string where, string reason, Exception cause)
        => new($"The arguments of {function} could not be serialised to JSON: " + (where.Length > 0 ? $"{where}: " : "") + reason, pool, cause);

    public static PythonSerializationException ArgumentsTooLarge(string pool, string function, int maxFrameSize)
        => new(
            $"The arguments of {function} take more than {maxFrameSize} bytes, the maximum frame size of pool '{pool}' "
                + "(PythonPoolOptions.MaxFrameSize); nothing was sent.",
            pool);

    public static PythonSerializationException ResultNotRead(string pool, string function, string typeName, string reason, Exception cause)
        => new($"The result of {function} could not be read as {typeName}: {reason}", pool, cause);

    public static PythonSerializationException CallbackResultNotSerialised(string pool, string name, Exception cause)
        => new($"The result of host callback '{name}' could not be serialised: {cause.Message}", pool, cause);

    public static PythonSerializationException CallbackResultTooLarge(string pool, string name, int maxFrameSize, Exception cause)
        => new(
            $"The result of host callback '{name}' takes more than {maxFrameSize} bytes, the maximum frame size (PythonPoolOptions.MaxFrameSize).",
            pool,
            cause);

    private static string SignalName(int signal) => signal switch
    {
        2 => " SIGINT",
        6 => " SIGABRT",
        9 => " SIGKILL",
        11 => " SIGSEGV",
        15 => " SIGTERM",
        _ => "",
    };
}
