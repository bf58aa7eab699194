namespace Lifeguard.Python;

/// <summary>The worker broke the protocol (a malformed, oversized or unexpected frame). The worker was killed and the pool replaces it.</summary>
public sealed class PythonProtocolException : LifeguardException
{
    /// <summary>Creates an exception with no message.</summary>
    public PythonProtocolException()
    {
    }

    /// <summary>Creates an exception with a message.</summary>
    public PythonProtocolException(string message)
        : base(message)
    {
    }

    /// <summary>Creates an exception with a message and a cause.</summary>
    public PythonProtocolException(string message, Exception? innerException)
        : base(message, innerException)
    {
    }

    internal PythonProtocolException(string message, string? poolName, Exception? innerException = null)
        : base(message, poolName, innerException)
    {
    }
}
