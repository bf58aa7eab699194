using System.Buffers;
using System.Runtime.InteropServices;
using System.Text.Json;

namespace Lifeguard.Dashboard;

/// <summary>
/// The last <see cref="Capacity"/> event-log entries, each with its stream id and its JSON, oldest first; the oldest
/// is overwritten when full. Not thread-safe: <see cref="DashboardHub"/> uses it under its lock.
/// </summary>
internal sealed class EventLog(int capacity)
{
    private readonly Entry[] _entries = new Entry[capacity];
    private int _start;
    private int _count;

    public int Capacity => _entries.Length;

    public int Count => _count;

    public void Add(long id, byte[] json)
    {
        int index = (_start + _count) % _entries.Length;
        _entries[index] = new Entry(id, json);
        if (_count < _entries.Length)
        {
            _count++;
        }
        else
        {
            _start = (_start + 1) % _entries.Length;
        }
    }

    /// <summary>Adds the entries with an id above <paramref name="afterId"/>, oldest first, to <paramref name="into"/>.</summary>
    public void CopyAfter(long afterId, List<Entry> into)
    {
        // Ids increase along the ring: skip from the oldest until past afterId.
        for (int i = 0; i < _count; i++)
        {
            var entry = _entries[(_start + i) % _entries.Length];
            if (entry.Id > afterId)
            {
                into.Add(entry);
            }
        }
    }

    /// <summary>The entries' JSON as one array, oldest first (for <c>GET api/events</c>).</summary>
    public byte[] ToJsonArray()
    {
        var buffer = new ArrayBufferWriter<byte>(1024);
        using (var json = new Utf8JsonWriter(buffer))
        {
            json.WriteStartArray();
            for (int i = 0; i < _count; i++)
            {
                json.WriteRawValue(_entries[(_start + i) % _entries.Length].Json, skipInputValidation: true);
            }

            json.WriteEndArray();
        }

        return buffer.WrittenSpan.ToArray();
    }

    /// <summary>One entry. Immutable.</summary>
    [StructLayout(LayoutKind.Auto)]
    internal readonly record struct Entry(long Id, byte[] Json);
}
