namespace Lifeguard.Python;

/// <summary>What one call runs with: its options resolved against the pool's.</summary>
internal readonly record struct CallSettings(TimeSpan Timeout, bool IncludeArguments);
