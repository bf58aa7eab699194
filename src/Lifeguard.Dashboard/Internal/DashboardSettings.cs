using System.Security.Cryptography;
using System.Text;

namespace Lifeguard.Dashboard;

/// <summary>
/// The options as they were when the dashboard was mapped: a copy, so later changes to the caller's
/// <see cref="DashboardOptions"/> have no effect. The token is kept only as its SHA-256 hash. Immutable; thread-safe.
/// </summary>
internal sealed class DashboardSettings
{
    private readonly byte[]? _tokenHash;

    private DashboardSettings(DashboardOptions options)
    {
        AllowActions = options.AllowActions;
        SampleInterval = options.SampleInterval;
        EventLogCapacity = options.EventLogCapacity;
        Time = options.TimeProvider;
        _tokenHash = options.AllowActions ? SHA256.HashData(Encoding.UTF8.GetBytes(options.ActionToken!)) : null;
    }

    public bool AllowActions { get; }

    public TimeSpan SampleInterval { get; }

    public int EventLogCapacity { get; }

    public TimeProvider Time { get; }

    public static DashboardSettings From(DashboardOptions options) => new(options);

    /// <summary>
    /// Whether <paramref name="token"/> is the action token. Both sides are hashed first, so the comparison takes the
    /// same time whatever the token's length or how much of it matches.
    /// </summary>
    public bool IsActionToken(string? token)
    {
        if (_tokenHash is null || string.IsNullOrEmpty(token))
        {
            return false;
        }

        Span<byte> given = stackalloc byte[SHA256.HashSizeInBytes];
        var bytes = Encoding.UTF8.GetBytes(token);
        SHA256.HashData(bytes, given);
        return CryptographicOperations.FixedTimeEquals(given, _tokenHash);
    }
}
