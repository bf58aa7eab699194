using System.Diagnostics;
using System.Diagnostics.CodeAnalysis;
using System.Runtime.InteropServices;
using System.Text.Json;

namespace Lifeguard.Python;

/// <summary>
/// Turns a spans frame (docs/protocol.md, "Spans") into activities under a call's span. The data comes from a worker,
/// so nothing in it is trusted: every entry is checked (shape, sizes, ids, times) and a bad one is skipped and counted
/// on the call's span, never thrown; times are clamped into the call's span; at most <see cref="MaxSpans"/> spans per
/// call are taken. Parents are preserved: an entry names an earlier entry as its parent, or none (the call's span).
/// Stateless and thread-safe.
/// </summary>
internal static class SpanImporter
{
    /// <summary>Spans kept per call; Python drops (and counts) the rest, and so does the host.</summary>
    public const int MaxSpans = 64;

    /// <summary>The UTF-8 size of one span's <c>attributes</c> object, as sent.</summary>
    public const int MaxAttributeBytes = 1024;

    /// <summary>The UTF-8 size of one span entry, as sent: its name, error and attributes with room to spare.</summary>
    public const int MaxSpanBytes = 16 * 1024;

    /// <summary>The UTF-8 size of a name, error type or error message, quotes and escapes included.</summary>
    public const int MaxStringBytes = 4 * 1024;

    private static readonly JsonDocumentOptions DocumentOptions = new() { MaxDepth = 8 };

    public static void Import(ReadOnlyMemory<byte> json, CallTrace trace)
    {
        JsonDocument document;
        try
        {
            document = JsonDocument.Parse(json, DocumentOptions);
        }
        catch (JsonException)
        {
            trace.SpansInvalid++;
            return;
        }

        using (document)
        {
            var root = document.RootElement;
            if (root.ValueKind != JsonValueKind.Object)
            {
                trace.SpansInvalid++;
                return;
            }

            trace.SpansDropped += Count(root, "dropped"u8, trace);
            trace.AttributesDropped += Count(root, "droppedAttributes"u8, trace);
            if (!root.TryGetProperty("spans"u8, out var spans) || spans.ValueKind != JsonValueKind.Array)
            {
                trace.SpansInvalid++;
                return;
            }

            ImportSpans(spans, trace);
        }
    }

    /// <summary>A count Python reports: a non-negative integer, or the frame's data is partly invalid (counted as such).</summary>
    private static long Count(JsonElement root, ReadOnlySpan<byte> name, CallTrace trace)
    {
        if (!root.TryGetProperty(name, out var value))
        {
            return 0;
        }

        if (value.ValueKind == JsonValueKind.Number && value.TryGetInt32(out int count) && count >= 0)
        {
            return count;
        }

        trace.SpansInvalid++;
        return 0;
    }

    private static void ImportSpans(JsonElement spans, CallTrace trace)
    {
        var call = trace.Activity;
        var callContext = call.Context;
        var earliest = call.StartTimeUtc;
        var latest = DateTime.UtcNow;

        // Python's span id (per call) -> the context its children hang from: its own activity's, or, when a listener
        // sampled it out, the one it would have hung from itself.
        Dictionary<long, ActivityContext>? parents = null;

        // Starting an activity makes it current; the call's span must stay current for the rest of the call.
        var current = Activity.Current;
        try
        {
            foreach (var entry in spans.EnumerateArray())
            {
                if (trace.Recorded >= MaxSpans)
                {
                    trace.SpansDropped++;
                    continue;
                }

                if (!TryRead(entry, out var span) || (parents?.ContainsKey(span.Id) ?? false))
                {
                    trace.SpansInvalid++;
                    continue;
                }

                var parent = span.Parent != 0 && parents is not null && parents.TryGetValue(span.Parent, out var known) ? known : callContext;
                trace.Recorded++;
                var activity = PythonTracing.Source.CreateActivity(span.Name, ActivityKind.Internal, parent);
                parents ??= [];
                if (activity is null)
                {
                    parents[span.Id] = parent;
                    continue;
                }

                var start = Clamp(span.StartNs, earliest, latest);
                var end = Clamp(span.EndNs, start, latest);
                activity.SetStartTime(start);
                activity.Start();
                parents[span.Id] = activity.Context; // its span id exists once started
                trace.AttributesDropped += span.OversizedAttributes + SetAttributes(activity, span.Attributes);
                if (span.ErrorType is not null)
                {
                    activity.SetTag(LifeguardTracing.ErrorTypeTag, span.ErrorType);
                    activity.SetStatus(ActivityStatusCode.Error, span.ErrorMessage);
                    activity.AddEvent(new ActivityEvent("exception", new DateTimeOffset(end), new ActivityTagsCollection
                    {
                        ["exception.type"] = span.ErrorType,
                        ["exception.message"] = span.ErrorMessage,
                    }));
                }

                if (span.Unfinished)
                {
                    activity.SetTag(PythonTracing.UnfinishedTag, true);
                }

                activity.SetEndTime(end);
                activity.Stop();
            }
        }
        finally
        {
            Activity.Current = current;
        }
    }

    /// <summary>Unix nanoseconds as UTC, within [earliest, latest]. No overflow: |ns / 100| is far below DateTime's range.</summary>
    private static DateTime Clamp(long unixNs, DateTime earliest, DateTime latest)
    {
        long ticks = DateTime.UnixEpoch.Ticks + (unixNs / 100);
        return ticks < earliest.Ticks ? earliest : ticks > latest.Ticks ? latest : new DateTime(ticks, DateTimeKind.Utc);
    }

    /// <summary>Sets the attributes of simple JSON types; returns how many were refused (another type, an empty key).</summary>
    private static int SetAttributes(Activity activity, JsonElement attributes)
    {
        if (attributes.ValueKind != JsonValueKind.Object)
        {
            return 0;
        }

        int refused = 0;
        foreach (var attribute in attributes.EnumerateObject())
        {
            object? value = attribute.Value.ValueKind switch
            {
                JsonValueKind.String => attribute.Value.GetString(),
                JsonValueKind.True => true,
                JsonValueKind.False => false,
                JsonValueKind.Number when attribute.Value.TryGetInt64(out long integer) => integer,
                JsonValueKind.Number when attribute.Value.TryGetDouble(out double number) && double.IsFinite(number) => number,
                _ => null,
            };
            if (value is null || attribute.Name.Length == 0)
            {
                refused++;
                continue;
            }

            activity.SetTag(attribute.Name, value);
        }

        return refused;
    }

    private static bool TryRead(JsonElement entry, out SpanEntry span)
    {
        span = default;
        if (entry.ValueKind != JsonValueKind.Object || JsonMarshal.GetRawUtf8Value(entry).Length > MaxSpanBytes)
        {
            return false;
        }

        if (!TryGetLong(entry, "id"u8, out long id) || id < 1
            || !TryGetLong(entry, "start"u8, out long start) || !TryGetLong(entry, "end"u8, out long end) || end < start
            || !TryGetString(entry, "name"u8, out var name) || name.Length == 0)
        {
            return false;
        }

        long parent = 0;
        if (entry.TryGetProperty("parent"u8, out var parentValue) && (!parentValue.TryGetInt64(out parent) || parent < 0))
        {
            return false;
        }

        string? errorType = null;
        string? errorMessage = null;
        if (entry.TryGetProperty("error"u8, out var error)
            && (error.ValueKind != JsonValueKind.Object || !TryGetString(error, "type"u8, out errorType) || !TryGetString(error, "message"u8, out errorMessage)))
        {
            return false;
        }

        var attributes = default(JsonElement);
        int oversized = 0;
        if (entry.TryGetProperty("attributes"u8, out var attributeValue))
        {
            if (attributeValue.ValueKind != JsonValueKind.Object)
            {
                return false;
            }

            // Over the limit Python keeps to: the span is kept, its attributes are dropped and counted.
            if (JsonMarshal.GetRawUtf8Value(attributeValue).Length > MaxAttributeBytes)
            {
                foreach (var unused in attributeValue.EnumerateObject())
                {
                    oversized++;
                }
            }
            else
            {
                attributes = attributeValue;
            }
        }

        bool unfinished = entry.TryGetProperty("unfinished"u8, out var flag) && flag.ValueKind == JsonValueKind.True;
        span = new SpanEntry(id, parent, name, start, end, errorType, errorMessage, attributes, oversized, unfinished);
        return true;
    }

    private static bool TryGetLong(JsonElement entry, ReadOnlySpan<byte> name, out long value)
    {
        value = 0;
        return entry.TryGetProperty(name, out var element) && element.ValueKind == JsonValueKind.Number && element.TryGetInt64(out value);
    }

    private static bool TryGetString(JsonElement entry, ReadOnlySpan<byte> name, [NotNullWhen(true)] out string? value)
    {
        value = null;
        if (!entry.TryGetProperty(name, out var element) || element.ValueKind != JsonValueKind.String
            || JsonMarshal.GetRawUtf8Value(element).Length > MaxStringBytes)
        {
            return false;
        }

        value = element.GetString();
        return value is not null;
    }

    private readonly record struct SpanEntry(
        long Id,
        long Parent,
        string Name,
        long StartNs,
        long EndNs,
        string? ErrorType,
        string? ErrorMessage,
        JsonElement Attributes,
        int OversizedAttributes,
        bool Unfinished);
}
