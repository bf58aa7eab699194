using System.Buffers;
using System.Text.Json;

namespace Lifeguard.Dashboard;

/// <summary>Writes one event-log entry's JSON from a <see cref="PoolEvent"/> (the schema docs/dashboard.md gives). Stateless and thread-safe.</summary>
internal static class LogEntryWriter
{
    public static byte[] Write(long id, PoolEvent e)
        => Write(id, e.Time, e.PoolName, e.WorkerId, e.ProcessId, e.Kind.ToString(), e.Detail, e.Source, e.ExitCode, e.Signal, e.OutputTail);

    public static byte[] Write(
        long id,
        DateTimeOffset time,
        string? pool,
        int? workerId,
        int? pid,
        string kind,
        string detail,
        string? source = null,
        int? exitCode = null,
        int? signal = null,
        IReadOnlyList<string>? outputTail = null)
    {
        var buffer = new ArrayBufferWriter<byte>(256);
        using (var json = new Utf8JsonWriter(buffer))
        {
            json.WriteStartObject();
            json.WriteNumber("id", id);
            json.WriteString("time", time);
            WriteString(json, "pool", pool);
            WriteNumber(json, "workerId", workerId);
            WriteNumber(json, "pid", pid);
            json.WriteString("kind", kind);
            json.WriteString("detail", detail);
            WriteString(json, "source", source);
            WriteNumber(json, "exitCode", exitCode);
            WriteNumber(json, "signal", signal);
            SnapshotWriter.WriteTail(json, "outputTail", outputTail ?? []);
            json.WriteEndObject();
        }

        return buffer.WrittenSpan.ToArray();
    }

    private static void WriteString(Utf8JsonWriter json, string name, string? value)
    {
        if (value is null)
        {
            json.WriteNull(name);
        }
        else
        {
            json.WriteString(name, value);
        }
    }

    private static void WriteNumber(Utf8JsonWriter json, string name, int? value)
    {
        if (value is { } v)
        {
            json.WriteNumber(name, v);
        }
        else
        {
            json.WriteNull(name);
        }
    }
}
