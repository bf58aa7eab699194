namespace Lifeguard.Python;

/// <summary>
/// The called Python code raised. The worker stays usable. <see cref="PythonType"/> is the exception's type
/// (<c>ValueError</c>, or <c>module.Name</c> outside builtins), <see cref="PythonTraceback"/> the full traceback.
/// </summary>
public sealed class PythonException : LifeguardException
{
    /// <summary>Creates an exception with no message.</summary>
    public PythonException()
    {
    }

    /// <summary>Creates an exception with a message.</summary>
    public PythonException(string message)
        : base(message)
    {
    }

    /// <summary>Creates an exception with a message and a cause.</summary>
    public PythonException(string message, Exception? innerException)
        : base(message, innerException)
    {
    }

    internal PythonException(string message, string? poolName, string pythonType, string pythonMessage, string traceback, string? function)
        : base(message, poolName)
    {
        PythonType = pythonType;
        PythonMessage = pythonMessage;
        PythonTraceback = traceback;
        Function = function;
    }

    /// <summary>The Python exception's type name.</summary>
    public string PythonType { get; } = "";

    /// <summary><c>str(exception)</c> in Python.</summary>
    public string PythonMessage { get; } = "";

    /// <summary>The formatted Python traceback; empty when Python could not encode a result.</summary>
    public string PythonTraceback { get; } = "";

    /// <summary>The called <c>module.function</c>.</summary>
    public string? Function { get; }

    /// <inheritdoc />
    public override string ToString()
        => PythonTraceback.Length == 0 ? base.ToString() : base.ToString() + Environment.NewLine + "--- Python traceback ---" + Environment.NewLine + PythonTraceback;
}
