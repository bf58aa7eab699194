using System.Text.Json;

namespace Lifeguard.Cli;

/// <summary>The outcome for one input line: a result, or an error type and message. Immutable.</summary>
internal sealed record RunEntry(long Index, JsonElement? Result, string? ErrorType, string? ErrorMessage, TimeSpan Latency)
{
    public bool Succeeded => ErrorType is null;

    public static RunEntry Success(long index, JsonElement result, TimeSpan latency) => new(index, result, null, null, latency);

    public static RunEntry Failure(long index, string type, string message, TimeSpan latency) => new(index, null, type, message, latency);
}
