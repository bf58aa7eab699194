namespace Lifeguard.Python;

/// <summary>
/// A call ran past its timeout. The call was interrupted (KeyboardInterrupt inside it); if the worker did not confirm
/// within the grace period it was killed and is replaced (<see cref="WorkerKilled"/>).
/// </summary>
public sealed class PythonCallTimeoutException : TimeoutException, ILifeguardException
{
    /// <summary>Creates an exception with no message.</summary>
    public PythonCallTimeoutException()
    {
    }

    /// <summary>Creates an exception with a message.</summary>
    public PythonCallTimeoutException(string message)
        : base(message)
    {
    }

    /// <summary>Creates an exception with a message and a cause.</summary>
    public PythonCallTimeoutException(string message, Exception? innerException)
        : base(message, innerException)
    {
    }

    internal PythonCallTimeoutException(string message, string? poolName, string function, TimeSpan timeout, bool workerKilled)
        : base(message)
    {
        PoolName = poolName;
        Function = function;
        Timeout = timeout;
        WorkerKilled = workerKilled;
    }

    /// <inheritdoc />
    public string? PoolName { get; }

    /// <summary>The called <c>module.function</c>.</summary>
    public string Function { get; } = "";

    /// <summary>The timeout that passed.</summary>
    public TimeSpan Timeout { get; }

    /// <summary>Whether the worker had to be killed because it did not stop within the grace period.</summary>
    public bool WorkerKilled { get; }
}
