namespace Lifeguard;

/// <summary>
/// The pool is in <see cref="PoolState.Backoff"/> after too many worker deaths or start failures, and this checkout
/// needed a new worker, so it failed fast instead of waiting. The last failure is the
/// <see cref="Exception.InnerException"/>.
/// </summary>
public sealed class PoolBackoffException : LifeguardException
{
    /// <summary>Creates an exception with no message.</summary>
    public PoolBackoffException()
    {
    }

    /// <summary>Creates an exception with a message.</summary>
    public PoolBackoffException(string message)
        : base(message)
    {
    }

    /// <summary>Creates an exception with a message and a cause.</summary>
    public PoolBackoffException(string message, Exception? innerException)
        : base(message, innerException)
    {
    }

    internal PoolBackoffException(string message, string poolName, PoolStatus? status, Exception? lastFailure)
        : base(message, poolName, lastFailure)
    {
        Status = status;
    }

    /// <summary>The pool's status when the checkout failed.</summary>
    public PoolStatus? Status { get; }
}
