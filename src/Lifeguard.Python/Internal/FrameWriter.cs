using System.Buffers;
using System.Buffers.Binary;
using System.Runtime.InteropServices;
using System.Text.Encodings.Web;
using System.Text.Json;

namespace Lifeguard.Python;

/// <summary>
/// Builds frames in one reusable buffer and writes them to a worker's stdin: header, JSON written straight into the
/// buffer, then attachments. The buffer refuses to grow past the maximum frame size, so a value too large to send is
/// refused while it is being written, not after. Not thread-safe: one writer per worker, one frame at a time.
/// </summary>
internal sealed class FrameWriter(Stream stream, int maxFrameSize)
{
    private const int HeaderSize = 17; // u32 length, u8 kind, u64 id, u32 json length
    private static readonly JsonWriterOptions WriterOptions = new() { Encoder = JavaScriptEncoder.UnsafeRelaxedJsonEscaping };
    private BoundedBuffer _buffer = new(16 * 1024, maxFrameSize);
    private Utf8JsonWriter? _json;
    private readonly List<ReadOnlyMemory<byte>> _attachments = [];
    private readonly byte[] _prefix = new byte[4];

    /// <summary>Attachments collected while the frame's JSON is written (bytes values).</summary>
    public List<ReadOnlyMemory<byte>> Attachments => _attachments;

    /// <summary>Starts a frame and returns the writer for its JSON part.</summary>
    public Utf8JsonWriter Begin()
    {
        if (_buffer.Capacity > 1024 * 1024)
        {
            _buffer = new BoundedBuffer(16 * 1024, maxFrameSize);
        }
        else
        {
            _buffer.ResetWrittenCount();
        }

        _attachments.Clear();
        Preamble = null;
        _buffer.Advance(HeaderSize);
        if (_json is null)
        {
            _json = new Utf8JsonWriter(_buffer, WriterOptions);
        }
        else
        {
            _json.Reset(_buffer);
        }

        return _json;
    }

    /// <summary>The maximum frame size, length prefix included.</summary>
    public int MaxFrameSize => maxFrameSize;

    /// <summary>The size of the frame begun, as far as it was written: header, JSON and attachments.</summary>
    public long PendingBytes
    {
        get
        {
            long total = _buffer.WrittenCount;
            foreach (var attachment in _attachments)
            {
                total += 4 + attachment.Length;
            }

            return total;
        }
    }

    /// <summary>
    /// A whole frame written just before the next frame sent, in the same write (a shared-memory segment the worker
    /// must read about before the call that uses it); cleared by <see cref="Begin"/> and once written.
    /// </summary>
    public byte[]? Preamble { get; set; }

    /// <summary>Writes a whole frame given as bytes (a shared-memory segment frame), outside the frame being built.</summary>
    public async ValueTask WriteWholeAsync(byte[] frame, CancellationToken cancellationToken)
    {
        await stream.WriteAsync(frame, cancellationToken).ConfigureAwait(false);
        await stream.FlushAsync(cancellationToken).ConfigureAwait(false);
    }

    /// <summary>Finishes the frame begun with <see cref="Begin"/> and writes it.</summary>
    /// <exception cref="FrameTooLargeException">The frame would exceed the maximum frame size; nothing is written.</exception>
    public async ValueTask SendAsync(FrameKind kind, ulong id, CancellationToken cancellationToken)
    {
        _json!.Flush();
        long jsonLength = _buffer.WrittenCount - HeaderSize;
        long total = _buffer.WrittenCount;
        foreach (var attachment in _attachments)
        {
            total += 4 + attachment.Length;
        }

        if (total > maxFrameSize)
        {
            _attachments.Clear();
            throw new FrameTooLargeException();
        }

        // The first attachment's length prefix rides with the header and JSON; attachments themselves are written
        // straight from the caller's arrays, never copied into the frame buffer.
        if (_attachments.Count > 0)
        {
            BinaryPrimitives.WriteUInt32BigEndian(_buffer.GetSpan(4), (uint)_attachments[0].Length);
            _buffer.Advance(4);
        }

        var head = MemoryMarshal.AsMemory(_buffer.WrittenMemory);
        var header = head.Span;
        BinaryPrimitives.WriteUInt32BigEndian(header, (uint)(total - 4));
        header[4] = (byte)kind;
        BinaryPrimitives.WriteUInt64BigEndian(header[5..], id);
        BinaryPrimitives.WriteUInt32BigEndian(header[13..], (uint)jsonLength);
        try
        {
            if (Preamble is { } preamble)
            {
                Preamble = null;
                await stream.WriteAsync(preamble, cancellationToken).ConfigureAwait(false);
            }

            await stream.WriteAsync(head, cancellationToken).ConfigureAwait(false);
            for (int i = 0; i < _attachments.Count; i++)
            {
                await stream.WriteAsync(_attachments[i], cancellationToken).ConfigureAwait(false);
                if (i + 1 < _attachments.Count)
                {
                    BinaryPrimitives.WriteUInt32BigEndian(_prefix, (uint)_attachments[i + 1].Length);
                    await stream.WriteAsync(_prefix, cancellationToken).ConfigureAwait(false);
                }
            }

            await stream.FlushAsync(cancellationToken).ConfigureAwait(false);
        }
        finally
        {
            _attachments.Clear();
        }
    }

    /// <summary>
    /// Finishes the frame begun with <see cref="Begin"/> as one array (header, JSON, attachments), for a remote pool's
    /// message, instead of writing it to the stream.
    /// </summary>
    /// <exception cref="FrameTooLargeException">The frame would exceed the maximum frame size.</exception>
    public byte[] ToArray(FrameKind kind, ulong id)
    {
        try
        {
            _json!.Flush();
            long total = _buffer.WrittenCount;
            foreach (var attachment in _attachments)
            {
                total += 4 + attachment.Length;
            }

            if (total > maxFrameSize)
            {
                throw new FrameTooLargeException();
            }

            var bytes = new byte[total];
            var written = _buffer.WrittenMemory.Span;
            written.CopyTo(bytes);
            BinaryPrimitives.WriteUInt32BigEndian(bytes, (uint)(total - 4));
            bytes[4] = (byte)kind;
            BinaryPrimitives.WriteUInt64BigEndian(bytes.AsSpan(5), id);
            BinaryPrimitives.WriteUInt32BigEndian(bytes.AsSpan(13), (uint)(written.Length - HeaderSize));
            int at = written.Length;
            foreach (var attachment in _attachments)
            {
                BinaryPrimitives.WriteUInt32BigEndian(bytes.AsSpan(at), (uint)attachment.Length);
                attachment.Span.CopyTo(bytes.AsSpan(at + 4));
                at += 4 + attachment.Length;
            }

            return bytes;
        }
        finally
        {
            _attachments.Clear();
        }
    }

    /// <summary>
    /// The frame buffer: an <see cref="ArrayBufferWriter{T}"/> that throws <see cref="FrameTooLargeException"/> once
    /// more than the maximum frame size has been written, and hands out no more room than the maximum allows beyond
    /// what a single write asks for. So it never grows far past the maximum, however large the value being written.
    /// </summary>
    private sealed class BoundedBuffer(int initialCapacity, int limit) : IBufferWriter<byte>
    {
        private readonly ArrayBufferWriter<byte> _inner = new(initialCapacity);

        public int WrittenCount => _inner.WrittenCount;

        public int Capacity => _inner.Capacity;

        public ReadOnlyMemory<byte> WrittenMemory => _inner.WrittenMemory;

        public void ResetWrittenCount() => _inner.ResetWrittenCount();

        public void Advance(int count)
        {
            _inner.Advance(count);
            if (_inner.WrittenCount > limit)
            {
                throw new FrameTooLargeException();
            }
        }

        public Memory<byte> GetMemory(int sizeHint = 0)
        {
            var memory = _inner.GetMemory(sizeHint);
            int room = Math.Max(Math.Max(sizeHint, 1), limit - _inner.WrittenCount + 1);
            return memory.Length > room ? memory[..room] : memory;
        }

        public Span<byte> GetSpan(int sizeHint = 0) => GetMemory(sizeHint).Span;
    }
}

/// <summary>A frame being built would exceed the maximum frame size; nothing of it was written to the worker.</summary>
internal sealed class FrameTooLargeException : Exception
{
    public FrameTooLargeException()
        : base("The frame would exceed the maximum frame size.")
    {
    }

    public FrameTooLargeException(string message)
        : base(message)
    {
    }

    public FrameTooLargeException(string message, Exception innerException)
        : base(message, innerException)
    {
    }
}
