namespace Lifeguard.Python;

/// <summary>A Python worker could not be started: the interpreter is missing, or the runtime, a preloaded module or the init function failed. The message carries the interpreter's own error text.</summary>
public sealed class PythonStartException : LifeguardException
{
    /// <summary>Creates an exception with no message.</summary>
    public PythonStartException()
    {
    }

    /// <summary>Creates an exception with a message.</summary>
    public PythonStartException(string message)
        : base(message)
    {
    }

    /// <summary>Creates an exception with a message and a cause.</summary>
    public PythonStartException(string message, Exception? innerException)
        : base(message, innerException)
    {
    }

    internal PythonStartException(string message, string? poolName, Exception? innerException = null)
        : base(message, poolName, innerException)
    {
    }
}
