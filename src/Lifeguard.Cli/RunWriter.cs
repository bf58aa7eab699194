using System.Buffers;
using System.Text.Encodings.Web;
using System.Text.Json;

namespace Lifeguard.Cli;

/// <summary>
/// Writes entries as JSON lines, <c>{"index": i, "line": n, "result": ...}</c> or <c>{"index": i, "line": n, "error":
/// {...}}</c>; a generator's items as <c>{"index": i, "line": n, "item": k, "result": ...}</c> and its closing entry as
/// <c>{"index": i, "line": n, "items": K}</c>. Each in one write ending with its line break, so that a line is torn only when the process is killed in
/// the middle of that write. Not thread-safe.
/// </summary>
internal sealed class RunWriter(Stream sink)
{
    private readonly ArrayBufferWriter<byte> _buffer = new(4096);
    private readonly JsonWriterOptions _options = new() { Encoder = JavaScriptEncoder.UnsafeRelaxedJsonEscaping };

    public async ValueTask WriteAsync(RunEntry entry, CancellationToken cancellationToken)
    {
        _buffer.ResetWrittenCount();
        using (var json = new Utf8JsonWriter(_buffer, _options))
        {
            json.WriteStartObject();
            json.WriteNumber("index"u8, entry.Index);
            json.WriteNumber("line"u8, entry.Line);
            if (entry.Item is { } item)
            {
                json.WriteNumber("item"u8, item);
            }

            if (entry.Items is { } items)
            {
                json.WriteNumber("items"u8, items);
            }
            else if (entry.Result is { } result)
            {
                json.WritePropertyName("result"u8);
                result.WriteTo(json);
            }
            else
            {
                json.WriteStartObject("error"u8);
                json.WriteString("type"u8, entry.ErrorType);
                json.WriteString("message"u8, entry.ErrorMessage);
                json.WriteEndObject();
            }

            json.WriteEndObject();
        }

        _buffer.GetSpan(1)[0] = (byte)'\n';
        _buffer.Advance(1);
        await sink.WriteAsync(_buffer.WrittenMemory, cancellationToken).ConfigureAwait(false);
    }

    public Task FlushAsync(CancellationToken cancellationToken) => sink.FlushAsync(cancellationToken);
}
