namespace Lifeguard.Python;

/// <summary>
/// A value could not cross the wire: the arguments could not be serialised or exceed the maximum frame size, or the
/// result could not be read as the requested type (a value of the wrong type, or a member the type cannot leave empty
/// missing or null; the message then names the type, the member and the keys the Python value had). Nothing about the
/// worker is wrong; it stays usable.
/// </summary>
public sealed class PythonSerializationException : LifeguardException
{
    /// <summary>Creates an exception with no message.</summary>
    public PythonSerializationException()
    {
    }

    /// <summary>Creates an exception with a message.</summary>
    public PythonSerializationException(string message)
        : base(message)
    {
    }

    /// <summary>Creates an exception with a message and a cause.</summary>
    public PythonSerializationException(string message, Exception? innerException)
        : base(message, innerException)
    {
    }

    internal PythonSerializationException(string message, string? poolName, Exception? innerException = null)
        : base(message, poolName, innerException)
    {
    }
}
