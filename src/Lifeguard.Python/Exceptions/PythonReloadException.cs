namespace Lifeguard.Python;

/// <summary>
/// A reload (<see cref="PythonPool.ReloadAsync(CancellationToken)"/>) was rolled back: the new code did not start (a
/// module file that no longer imports, an init function that raises), so the pool is unchanged and serves the code it
/// had. Python's own error is in <see cref="PythonType"/>, <see cref="PythonMessage"/> and
/// <see cref="PythonTraceback"/>; the failed start is the <see cref="Exception.InnerException"/>.
/// </summary>
public sealed class PythonReloadException : LifeguardException
{
    /// <summary>Creates an exception with no message.</summary>
    public PythonReloadException()
    {
    }

    /// <summary>Creates an exception with a message.</summary>
    public PythonReloadException(string message)
        : base(message)
    {
    }

    /// <summary>Creates an exception with a message and a cause.</summary>
    public PythonReloadException(string message, Exception? innerException)
        : base(message, innerException)
    {
    }

    internal PythonReloadException(string message, string? poolName, PythonStartException? start, Exception? innerException)
        : base(message, poolName, innerException)
    {
        PythonType = start?.PythonType;
        PythonMessage = start?.PythonMessage;
        PythonTraceback = start?.PythonTraceback;
    }

    /// <summary>
    /// The type of the Python exception that failed the new code's start, e.g. <c>SyntaxError</c> or
    /// <c>ImportError</c>; <see langword="null"/> when it failed otherwise (no handshake, a timeout).
    /// </summary>
    public string? PythonType { get; }

    /// <summary>That exception's message (for a <c>SyntaxError</c> it names the file and line), or <see langword="null"/>.</summary>
    public string? PythonMessage { get; }

    /// <summary>That exception's formatted traceback, or <see langword="null"/>.</summary>
    public string? PythonTraceback { get; }
}
