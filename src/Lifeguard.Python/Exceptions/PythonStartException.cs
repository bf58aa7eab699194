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

    internal PythonStartException(string message, string? poolName, string pythonType, string pythonMessage, string pythonTraceback)
        : base(message, poolName, null)
    {
        PythonType = pythonType;
        PythonMessage = pythonMessage;
        PythonTraceback = pythonTraceback;
    }

    /// <summary>
    /// The type of the Python exception that failed the start while the worker set itself up (importing a
    /// <see cref="PythonPoolOptions.ModuleFiles"/> or <see cref="PythonPoolOptions.Preload"/> module, running the
    /// init function), e.g. <c>SyntaxError</c> or <c>ModuleNotFoundError</c>, qualified with its module outside
    /// builtins; <see langword="null"/> when the start failed otherwise (no interpreter, no handshake, a timeout).
    /// </summary>
    public string? PythonType { get; }

    /// <summary>
    /// That exception's message (<c>str(error)</c>; for a <c>SyntaxError</c> it names the file and line, e.g.
    /// <c>invalid syntax (score.py, line 3)</c>), or <see langword="null"/> as for <see cref="PythonType"/>.
    /// </summary>
    public string? PythonMessage { get; }

    /// <summary>That exception's formatted traceback, or <see langword="null"/> as for <see cref="PythonType"/>.</summary>
    public string? PythonTraceback { get; }
}
