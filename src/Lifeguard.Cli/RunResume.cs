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
    /// belongs to another input (or was edited), and the run is refused before anything is written.
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
        while (await entries.NextAsync(read: true, cancellationToken).ConfigureAwait(false) is { } entry)
        {
            if (!entry.Terminated)
            {
                break; // torn: written in part when the run was killed
            }

            var expected = await inputs.NextAsync(read: false, cancellationToken).ConfigureAwait(false);
            if (expected is null)
            {
                throw Refused(output, entry, $"is entry {count + 1}, but the input has only {count} non-blank lines");
            }

            if (entry.Number != count + 1)
            {
                throw Refused(output, entry, "follows a blank line, which no run writes");
            }

            var (problem, errorType) = Check(entry, expected.Value);
            if (problem is not null)
            {
                throw Refused(output, entry, problem);
            }

            if (errorType is not null)
            {
                failures[errorType] = failures.GetValueOrDefault(errorType) + 1;
            }

            count++;
            length = entry.End;
        }

        bool complete = await inputs.NextAsync(read: false, cancellationToken).ConfigureAwait(false) is null;
        return new ResumePoint(count, length, new FileInfo(output.FullName).Length, failures, complete);
    }

    /// <summary>What is wrong with an output line as the entry of an input line (null: nothing), and its error type if it is an error entry.</summary>
    private static (string? Problem, string? ErrorType) Check(InputLine entry, InputLine input)
    {
        if (entry.Bytes is null)
        {
            return (string.Create(CultureInfo.InvariantCulture, $"is longer than any entry ({entry.Length} bytes)"), null);
        }

        try
        {
            using var document = JsonDocument.Parse(entry.Bytes);
            var root = document.RootElement;
            JsonElement error = default;
            if (root.ValueKind != JsonValueKind.Object
                || !root.TryGetProperty("index"u8, out var index) || !index.TryGetInt64(out long i)
                || !root.TryGetProperty("line"u8, out var line) || !line.TryGetInt64(out long n)
                || !(root.TryGetProperty("result"u8, out _) || (root.TryGetProperty("error"u8, out error) && error.ValueKind == JsonValueKind.Object)))
            {
                return ("is not an entry ({\"index\": ..., \"line\": ..., \"result\" or \"error\": ...})", null);
            }

            if (i != input.Index || n != input.Number)
            {
                return (string.Create(CultureInfo.InvariantCulture, $"has index {i} and line {n}, but input {input.Index} is on line {input.Number} of the input"), null);
            }

            string? type = error.ValueKind != JsonValueKind.Object ? null
                : error.TryGetProperty("type"u8, out var t) && t.ValueKind == JsonValueKind.String ? t.GetString() : "Error";
            return (null, type);
        }
        catch (JsonException)
        {
            return ("is not JSON", null);
        }
    }

    private static UsageException Refused(FileInfo output, InputLine entry, string problem)
        => new(string.Create(CultureInfo.InvariantCulture, $"--resume: line {entry.Number} of '{output}' {problem}; that output is not this input's, so nothing was run or written."));
}
