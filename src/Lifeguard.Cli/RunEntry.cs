using System.Text.Json;

namespace Lifeguard.Cli;

/// <summary>
/// One line of a run's output: a result, or an error type and message; for a generator function, also one entry per
/// yielded item (<see cref="Item"/> counting from 0) and a closing entry with the number of items
/// (<see cref="Items"/>), or an error entry after the items. <see cref="Index"/> counts the non-blank lines from 0;
/// <see cref="Line"/> is the line's 1-based number in the input file. Immutable.
/// </summary>
internal sealed record RunEntry(long Index, long Line, JsonElement? Result, string? ErrorType, string? ErrorMessage, TimeSpan Latency)
{
    /// <summary>The item's number, for an entry of a yielded item; else null.</summary>
    public long? Item { get; init; }

    /// <summary>How many items the input yielded, for a generator's closing entry; else null.</summary>
    public long? Items { get; init; }

    public bool Succeeded => ErrorType is null;

    /// <summary>Whether this entry completes its input: every entry but an item's.</summary>
    public bool Completes => Item is null;

    public static RunEntry Success(InputLine input, JsonElement result, TimeSpan latency) => new(input.Index, input.Number, result, null, null, latency);

    public static RunEntry Failure(InputLine input, string type, string message, TimeSpan latency) => new(input.Index, input.Number, null, type, message, latency);

    public static RunEntry Yielded(InputLine input, long item, JsonElement result) => new(input.Index, input.Number, result, null, null, TimeSpan.Zero) { Item = item };

    public static RunEntry Closing(InputLine input, long items, TimeSpan latency) => new(input.Index, input.Number, null, null, null, latency) { Items = items };
}
