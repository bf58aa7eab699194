namespace Lifeguard;

/// <summary>The base type of Lifeguard's errors other than timeouts and use after stop.</summary>
public class LifeguardException : Exception, ILifeguardException
{
    /// <summary>Creates an exception with no message.</summary>
    public LifeguardException()
    {
    }

    /// <summary>Creates an exception with a message.</summary>
    public LifeguardException(string message)
        : base(message)
    {
    }

    /// <summary>Creates an exception with a message and a cause.</summary>
    public LifeguardException(string message, Exception? innerException)
        : base(message, innerException)
    {
    }

    /// <summary>Creates an exception that concerns a pool.</summary>
    public LifeguardException(string message, string? poolName, Exception? innerException = null)
        : base(message, innerException)
    {
        PoolName = poolName;
    }

    /// <inheritdoc />
    public string? PoolName { get; }
}
