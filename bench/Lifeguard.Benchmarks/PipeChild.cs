using System.Buffers;
using System.Buffers.Binary;
using System.Diagnostics;
using System.Runtime.InteropServices;
using System.Text.Json;
using System.Text.Json.Serialization.Metadata;

namespace Lifeguard.Benchmarks;

/// <summary>
/// The floor of a pipe bridge: one <c>python/pipe_child.py</c> process and the least a .NET parent can do to talk to
/// it: a u32 big-endian length prefix, async <see cref="Stream.WriteAsync(ReadOnlyMemory{byte}, CancellationToken)"/>
/// and <see cref="Stream.ReadAsync(Memory{byte}, CancellationToken)"/> on the redirected stdin and stdout, one buffer
/// reused for every frame. In <c>json</c> mode a call is <c>{"f": name, "a": [args]}</c> written with
/// <see cref="Utf8JsonWriter"/> and the reply is read with <see cref="JsonSerializer"/>; in <c>raw</c> mode bytes are
/// echoed with no JSON at all. One call at a time; not thread-safe.
/// </summary>
internal sealed class PipeChild : IAsyncDisposable
{
    private const int HeaderSize = 4;
    private readonly Process _process;
    private readonly Stream _input;
    private readonly Stream _output;
    private readonly ArrayBufferWriter<byte> _frame = new(4096);
    private readonly Utf8JsonWriter _json;
    private readonly byte[] _header = new byte[HeaderSize];
    private byte[] _buffer = new byte[16 * 1024];
    private int _start;
    private int _end;

    private PipeChild(Process process)
    {
        _process = process;
        _input = process.StandardInput.BaseStream;
        _output = process.StandardOutput.BaseStream;
        _json = new Utf8JsonWriter(_frame);
    }

    /// <summary>The child's process id.</summary>
    public int ProcessId => _process.Id;

    /// <summary>Starts a child that decodes JSON calls to <c>benchmod</c> functions.</summary>
    public static async Task<PipeChild> StartJsonAsync() => new(await PythonBench.StartScriptAsync("pipe_child.py", "json"));

    /// <summary>Starts a child that echoes every frame unchanged.</summary>
    public static async Task<PipeChild> StartRawAsync() => new(await PythonBench.StartScriptAsync("pipe_child.py", "raw"));

    /// <summary>Calls <c>benchmod.function(arg)</c> in a <c>json</c> child and reads the result as <typeparamref name="TResult"/>.</summary>
    public async ValueTask<TResult?> CallAsync<TArg, TResult>(string function, TArg arg, JsonTypeInfo<TArg> argType, JsonTypeInfo<TResult> resultType)
    {
        _frame.ResetWrittenCount();
        _frame.Advance(HeaderSize);
        _json.Reset(_frame);
        _json.WriteStartObject();
        _json.WriteString("f"u8, function);
        _json.WritePropertyName("a"u8);
        _json.WriteStartArray();
        JsonSerializer.Serialize(_json, arg, argType);
        _json.WriteEndArray();
        _json.WriteEndObject();
        _json.Flush();
        var frame = MemoryMarshal.AsMemory(_frame.WrittenMemory);
        BinaryPrimitives.WriteUInt32BigEndian(frame.Span, (uint)(frame.Length - HeaderSize));
        await _input.WriteAsync(frame);
        await _input.FlushAsync();

        int length = await ReadFrameAsync();
        var result = JsonSerializer.Deserialize(_buffer.AsSpan(_start + HeaderSize, length), resultType);
        _start += HeaderSize + length;
        return result;
    }

    /// <summary>Sends <paramref name="data"/> to a <c>raw</c> child and returns what comes back, as a new array.</summary>
    public async ValueTask<byte[]> EchoAsync(byte[] data)
    {
        BinaryPrimitives.WriteUInt32BigEndian(_header, (uint)data.Length);
        await _input.WriteAsync(_header);
        await _input.WriteAsync(data);
        await _input.FlushAsync();

        int length = await ReadFrameAsync();
        var result = _buffer.AsSpan(_start + HeaderSize, length).ToArray();
        _start += HeaderSize + length;
        return result;
    }

    public async ValueTask DisposeAsync() => await PythonBench.StopAsync(_process, TimeSpan.FromSeconds(5));

    /// <summary>Reads until a whole frame is buffered at <see cref="_start"/>; returns its payload length.</summary>
    private async ValueTask<int> ReadFrameAsync()
    {
        if (_start == _end)
        {
            _start = _end = 0;
        }

        await FillAsync(HeaderSize);
        int length = checked((int)BinaryPrimitives.ReadUInt32BigEndian(_buffer.AsSpan(_start)));
        await FillAsync(HeaderSize + length);
        return length;
    }

    private async ValueTask FillAsync(int needed)
    {
        while (_end - _start < needed)
        {
            if (_buffer.Length - _start < needed)
            {
                // Make room once for the whole frame, as its length is known (or for its header).
                var target = _buffer.Length >= needed ? _buffer : new byte[Math.Max(needed, _buffer.Length * 2)];
                Buffer.BlockCopy(_buffer, _start, target, 0, _end - _start);
                _end -= _start;
                _start = 0;
                _buffer = target;
            }

            int read = await _output.ReadAsync(_buffer.AsMemory(_end));
            if (read == 0)
            {
                throw new EndOfStreamException($"pipe_child.py (pid {_process.Id}) closed its output inside a frame.");
            }

            _end += read;
        }
    }
}
