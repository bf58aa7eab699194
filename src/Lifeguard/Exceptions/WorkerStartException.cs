namespace Lifeguard;

/// <summary>
/// A worker could not be started: the factory threw, or the worker died while starting. The factory's own error is
/// the <see cref="Exception.InnerException"/>.
/// </summary>
public sealed class WorkerStartException : LifeguardException
{
    /// <summary>Creates an exception with no message.</summary>
    public WorkerStartException()
    {
    }

    /// <summary>Creates an exception with a message.</summary>
    public WorkerStartException(string message)
        : base(message)
    {
    }

    /// <summary>Creates an exception with a message and a cause.</summary>
    public WorkerStartException(string message, Exception? innerException)
        : base(message, innerException)
    {
    }

    internal WorkerStartException(string message, string poolName, int workerId, Exception? innerException)
        : base(message, poolName, innerException)
    {
        WorkerId = workerId;
    }

    /// <summary>The id the worker would have had.</summary>
    public int WorkerId { get; }
}
