using System.Text.Json;

namespace Lifeguard.Cli;

/// <summary>
/// The outcome for one input line: a result, or an error type and message. <see cref="Index"/> counts the non-blank
/// lines from 0; <see cref="Line"/> is the line's 1-based number in the input file. Immutable.
/// </summary>
internal sealed record RunEntry(long Index, long Line, JsonElement? Result, string? ErrorType, string? ErrorMessage, TimeSpan Latency)
{
    public bool Succeeded => ErrorType is null;

    public static RunEntry Success(InputLine input, JsonElement result, TimeSpan latency) => new(input.Index, input.Number, result, null, null, latency);

    public static RunEntry Failure(InputLine input, string type, string message, TimeSpan latency) => new(input.Index, input.Number, null, type, message, latency);
}
