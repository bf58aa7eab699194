namespace Lifeguard;

/// <summary>
/// A checkout was refused at once because <see cref="PoolOptions.MaxWaiters"/> callers were already waiting (load
/// shedding). Retrying later, or with a larger limit, may succeed.
/// </summary>
public sealed class PoolRejectedException : LifeguardException
{
    /// <summary>Creates an exception with no message.</summary>
    public PoolRejectedException()
    {
    }

    /// <summary>Creates an exception with a message.</summary>
    public PoolRejectedException(string message)
        : base(message)
    {
    }

    /// <summary>Creates an exception with a message and a cause.</summary>
    public PoolRejectedException(string message, Exception? innerException)
        : base(message, innerException)
    {
    }

    internal PoolRejectedException(string message, string poolName, PoolStatus? status)
        : base(message, poolName)
    {
        Status = status;
    }

    /// <summary>The pool's status when the checkout was rejected.</summary>
    public PoolStatus? Status { get; }
}
