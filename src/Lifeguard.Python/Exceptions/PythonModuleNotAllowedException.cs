namespace Lifeguard.Python;

/// <summary>The called module is not in the pool's module allowlist. Nothing was sent.</summary>
public sealed class PythonModuleNotAllowedException : LifeguardException
{
    /// <summary>Creates an exception with no message.</summary>
    public PythonModuleNotAllowedException()
    {
    }

    /// <summary>Creates an exception with a message.</summary>
    public PythonModuleNotAllowedException(string message)
        : base(message)
    {
    }

    /// <summary>Creates an exception with a message and a cause.</summary>
    public PythonModuleNotAllowedException(string message, Exception? innerException)
        : base(message, innerException)
    {
    }

    internal PythonModuleNotAllowedException(string message, string? poolName, Exception? innerException = null)
        : base(message, poolName, innerException)
    {
    }
}
