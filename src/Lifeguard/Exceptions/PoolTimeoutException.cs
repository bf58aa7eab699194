namespace Lifeguard;

/// <summary>
/// No worker became available within the checkout timeout. The message names the pool and the option to raise;
/// <see cref="Status"/> is the pool's state at the moment of the timeout.
/// </summary>
public sealed class PoolTimeoutException : TimeoutException, ILifeguardException
{
    /// <summary>Creates an exception with no message.</summary>
    public PoolTimeoutException()
    {
    }

    /// <summary>Creates an exception with a message.</summary>
    public PoolTimeoutException(string message)
        : base(message)
    {
    }

    /// <summary>Creates an exception with a message and a cause.</summary>
    public PoolTimeoutException(string message, Exception? innerException)
        : base(message, innerException)
    {
    }

    internal PoolTimeoutException(string message, string poolName, TimeSpan timeout, PoolStatus? status)
        : base(message)
    {
        PoolName = poolName;
        Timeout = timeout;
        Status = status;
    }

    /// <inheritdoc />
    public string? PoolName { get; }

    /// <summary>The timeout that passed.</summary>
    public TimeSpan Timeout { get; }

    /// <summary>The pool's status when the checkout timed out.</summary>
    public PoolStatus? Status { get; }
}
