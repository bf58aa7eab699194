using System.Globalization;
using System.Text.Json;

namespace Lifeguard.Cli;

/// <summary>
/// Where a <c>--resume</c> continues: the complete entries already in the output, checked against the input's
/// numbering, and the length of the file they fill. A torn last line (no line break: the process was killed while
/// writing it) is not an entry and is cut off when the output is opened. <see cref="Complete"/>: every input has its
/// entry. Immutable.
/// </summary>
internal sealed record ResumePoint(long Entries, long Length, long FileLength, IReadOnlyDictionary<string, long> Failures, bool Complete)
{
    public static readonly ResumePoint None = new(0, 0, 0, new Dictionary<string, long>(StringComparer.Ordinal), Complete: false);

    public long Failed => Failures.Values.Sum();

    /// <summary>
    /// Reads the existing output. Every complete line must be the entry of the input line it stands for: its
    /// <c>index</c> in order from 0 and its <c>line</c> the number of that input line; anything else means the output
    /// belongs to another input (or was edited), and the run is refused before anything is written. A generator's input
    /// is complete with its closing (or error) entry, after its items numbered from 0.
    /// </summary>
    /// <exception cref="UsageException">The output does not match the input.</exception>
    public static async Task<ResumePoint> LoadAsync(FileInfo output, FileInfo input, long maxLine, CancellationToken cancellationToken)
    {
        if (!File.Exists(output.FullName))
        {
            return None;
        }

        using var entries = RunInput.Open(output.FullName, maxLine);
        using var inputs = RunInput.Open(input.FullName, 0);
        var failures = new SortedDictionary<string, long>(StringComparer.Ordinal);
        long count = 0;
        long length = 0;
        long lines = 0;
        InputLine? open = null; // the input whose items are being read: a generator's, until its closing entry
        long items = 0;
        while (await entries.NextAsync(read: true, cancellationToken).ConfigureAwait(false) is { } entry)
        {
            if (!entry.Terminated)
            {
                break; // torn: written in part when the run was killed
            }

            if (entry.Number != ++lines)
            {
                throw Refused(output, entry, "follows a blank line, which no run writes");
            }

            if (open is not { } expected)
            {
                if (await inputs.NextAsync(read: false, cancellationToken).ConfigureAwait(false) is not { } next)
                {
                    throw Refused(output, entry, $"is entry {count + 1}, but the input has only {count} non-blank lines");
                }

                expected = next;
                items = 0;
            }

            var (problem, shape) = Check(entry, expected);
            if (problem is not null)
            {
                throw Refused(output, entry, problem);
            }

            if (shape.Item is { } item)
            {
                if (item != items)
                {
                    throw Refused(output, entry, $"is item {item} of input {expected.Index}, but item {items} comes next");
                }

                items++;
                open = expected;
                continue;
            }

            if (shape.Items is { } closing && closing != items)
            {
                throw Refused(output, entry, $"closes input {expected.Index} with {closing} items, but {items} precede it");
            }

            if (shape.ErrorType is { } errorType)
            {
                failures[errorType] = failures.GetValueOrDefault(errorType) + 1;
            }

            open = null;
            count++;
            length = entry.End;
        }

        // The items of an input without its closing entry (the run was stopped in the middle of it) are cut off with
        // the torn line, if any, and that input runs again.
        bool complete = open is null && await inputs.NextAsync(read: false, cancellationToken).ConfigureAwait(false) is null;
        return new ResumePoint(count, length, new FileInfo(output.FullName).Length, failures, complete);
    }

    /// <summary>
    /// What is wrong with an output line as an entry of an input line (null: nothing), and what it is: an item
    /// (<c>"item": k</c>), a closing entry (<c>"items": K</c>), an error entry (its type), or a result.
    /// </summary>
    private static (string? Problem, EntryShape Shape) Check(InputLine entry, InputLine input)
    {
        if (entry.Bytes is null)
        {
            return (string.Create(CultureInfo.InvariantCulture, $"is longer than any entry ({entry.Length} bytes)"), default);
        }

        try
        {
            using var document = JsonDocument.Parse(entry.Bytes);
            var root = document.RootElement;
            JsonElement error = default;
            JsonElement items = default;
            if (root.ValueKind != JsonValueKind.Object
                || !root.TryGetProperty("index"u8, out var index) || !IsInt64(index, out long i)
                || !root.TryGetProperty("line"u8, out var line) || !IsInt64(line, out long n)
                || !(root.TryGetProperty("result"u8, out _)
                    || (root.TryGetProperty("error"u8, out error) && error.ValueKind == JsonValueKind.Object)
                    || (root.TryGetProperty("items"u8, out items) && IsInt64(items, out _))))
            {
                return ("is not an entry ({\"index\": ..., \"line\": ..., \"result\", \"error\" or \"items\": ...})", default);
            }

            if (i != input.Index || n != input.Number)
            {
                return (string.Create(CultureInfo.InvariantCulture, $"has index {i} and line {n}, but input {input.Index} is on line {input.Number} of the input"), default);
            }

            long? item = null;
            if (root.TryGetProperty("item"u8, out var k))
            {
                if (!IsInt64(k, out long number) || !root.TryGetProperty("result"u8, out _))
                {
                    return ("is not an item entry ({\"index\": ..., \"line\": ..., \"item\": k, \"result\": ...})", default);
                }

                item = number;
            }

            string? type = error.ValueKind != JsonValueKind.Object ? null
                : error.TryGetProperty("type"u8, out var t) && t.ValueKind == JsonValueKind.String ? t.GetString() : "Error";
            return (null, new EntryShape(item, IsInt64(items, out long closing) ? closing : null, type));
        }
        catch (JsonException)
        {
            return ("is not JSON", default);
        }
    }

    /// <summary>Whether the element is a JSON number that fits a long (TryGetInt64 throws on other kinds).</summary>
    private static bool IsInt64(JsonElement element, out long value)
    {
        value = 0;
        return element.ValueKind == JsonValueKind.Number && element.TryGetInt64(out value);
    }

    /// <summary>What an entry is: an item (its number), a closing entry (the number of items), an error entry (its type), or none of these (a result).</summary>
    private readonly record struct EntryShape(long? Item, long? Items, string? ErrorType);

    private static UsageException Refused(FileInfo output, InputLine entry, string problem)
        => new(string.Create(CultureInfo.InvariantCulture, $"--resume: line {entry.Number} of '{output}' {problem}; that output is not this input's, so nothing was run or written."));
}
