namespace Lifeguard.RabbitMQ;

/// <summary>
/// The host running a remote call was lost (killed, or cut off from the broker) before it replied, and the call is not
/// idempotent, so it was not run again: it may or may not have run, in part or whole. Mark a call idempotent
/// (<see cref="Python.PythonCallOptions.Idempotent"/>, or <see cref="Python.PythonCallOptions.MaxRetries"/> above 0) to
/// have it run again on another host instead.
/// </summary>
public sealed class RemoteHostLostException : LifeguardException
{
    /// <summary>Creates an exception with a default message.</summary>
    public RemoteHostLostException()
    {
    }

    /// <summary>Creates an exception with a message.</summary>
    public RemoteHostLostException(string message)
        : base(message)
    {
    }

    /// <summary>Creates an exception with a message and a cause.</summary>
    public RemoteHostLostException(string message, Exception? innerException)
        : base(message, innerException)
    {
    }

    internal RemoteHostLostException(string message, string poolName, string function)
        : base(message, poolName)
    {
        Function = function;
    }

    /// <summary>The called <c>module.function</c>.</summary>
    public string Function { get; } = "";
}
