namespace Lifeguard.RabbitMQ;

/// <summary>
/// A remote call's message was delivered <see cref="Deliveries"/> times, reaching
/// <see cref="RemotePythonPoolOptions.PoisonThreshold"/>, each earlier delivery ending with its host lost: the input is
/// taken to be what kills hosts, so it was moved to the pool's dead-letter queue (<see cref="DeadLetterQueue"/>)
/// instead of being run again.
/// </summary>
public sealed class PythonPoisonInputException : LifeguardException
{
    /// <summary>Creates an exception with a default message.</summary>
    public PythonPoisonInputException()
    {
    }

    /// <summary>Creates an exception with a message.</summary>
    public PythonPoisonInputException(string message)
        : base(message)
    {
    }

    /// <summary>Creates an exception with a message and a cause.</summary>
    public PythonPoisonInputException(string message, Exception? innerException)
        : base(message, innerException)
    {
    }

    internal PythonPoisonInputException(string message, string poolName, string function, int deliveries, string deadLetterQueue)
        : base(message, poolName)
    {
        Function = function;
        Deliveries = deliveries;
        DeadLetterQueue = deadLetterQueue;
    }

    /// <summary>The called <c>module.function</c>.</summary>
    public string Function { get; } = "";

    /// <summary>How many times the message was delivered, this last delivery included.</summary>
    public int Deliveries { get; }

    /// <summary>The queue the message was moved to.</summary>
    public string DeadLetterQueue { get; } = "";
}
