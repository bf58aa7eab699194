namespace Lifeguard;

/// <summary>The pool is stopping or stopped; no worker will be handed out.</summary>
public sealed class PoolStoppedException : ObjectDisposedException, ILifeguardException
{
    /// <summary>Creates an exception with no message.</summary>
    public PoolStoppedException()
        : base(null)
    {
    }

    /// <summary>Creates an exception with a message.</summary>
    public PoolStoppedException(string message)
        : base(null, message)
    {
    }

    /// <summary>Creates an exception with a message and a cause.</summary>
    public PoolStoppedException(string message, Exception? innerException)
        : base(message, innerException)
    {
    }

    internal PoolStoppedException(string message, string poolName)
        : base(poolName, message)
    {
        PoolName = poolName;
    }

    /// <inheritdoc />
    public string? PoolName { get; }
}
