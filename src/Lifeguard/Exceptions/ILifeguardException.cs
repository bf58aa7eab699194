namespace Lifeguard;

/// <summary>
/// Marks every exception Lifeguard throws, whatever its base type (<see cref="TimeoutException"/>,
/// <see cref="ObjectDisposedException"/> or <see cref="LifeguardException"/>), so callers can catch them all:
/// <c>catch (Exception e) when (e is ILifeguardException)</c>.
/// </summary>
public interface ILifeguardException
{
    /// <summary>The pool the error concerns, when there is one.</summary>
    string? PoolName { get; }
}
