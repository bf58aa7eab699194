namespace Lifeguard.RabbitMQ;

/// <summary>
/// The RabbitMQ broker cannot be reached, or the connection to it was lost: a call made meanwhile fails at once, and a
/// call whose reply was lost with the connection fails with this (an idempotent one is sent again once the connection
/// is back, within its deadline). The connection recovers by itself, with backoff; later calls go through again.
/// </summary>
public sealed class BrokerUnavailableException : LifeguardException
{
    /// <summary>Creates an exception with a default message.</summary>
    public BrokerUnavailableException()
    {
    }

    /// <summary>Creates an exception with a message.</summary>
    public BrokerUnavailableException(string message)
        : base(message)
    {
    }

    /// <summary>Creates an exception with a message and a cause.</summary>
    public BrokerUnavailableException(string message, Exception? innerException)
        : base(message, innerException)
    {
    }

    internal BrokerUnavailableException(string message, string poolName, Exception? innerException)
        : base(message, poolName, innerException)
    {
    }
}
