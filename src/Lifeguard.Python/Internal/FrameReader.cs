using System.Buffers;
using System.Buffers.Binary;
using System.Text.Unicode;

namespace Lifeguard.Python;

/// <summary>
/// Reads length-prefixed frames from a worker's stdout and checks every rule of the frame layout before returning one.
/// The buffer grows with the data that actually arrives (beyond its first 16 KiB, to at most twice what has been
/// received), never beyond the maximum frame size, so a hostile length prefix cannot make the host allocate.
/// Resumable: a cancelled read leaves what was received in the buffer for the next read. Not thread-safe: one reader
/// per worker.
/// </summary>
internal sealed class FrameReader(Stream stream, int maxFrameSize) : IDisposable
{
    private const int HeaderSize = 4;
    private const int MinBody = 13;
    private byte[] _buffer = ArrayPool<byte>.Shared.Rent(16 * 1024);
    private int _start;
    private int _end;
    private int _consumeOnNextRead;
    private int _smallFramesSinceLarge;

    /// <summary>The size of the buffer frames are read into.</summary>
    public int BufferSize => _buffer.Length;

    /// <summary>
    /// Whether the next frame (or its first bytes, if they break a rule) is already in the buffer, so that
    /// <see cref="ReadAsync"/> completes without reading the stream.
    /// </summary>
    public bool HasFrame
    {
        get
        {
            int start = _start + _consumeOnNextRead;
            int available = _end - start;
            return available >= HeaderSize
                && BinaryPrimitives.ReadUInt32BigEndian(_buffer.AsSpan(start)) is var length
                && (length < MinBody || length > (uint)maxFrameSize - HeaderSize || available - HeaderSize >= length);
        }
    }

    /// <summary>Reads the next frame; <see langword="null"/> at a clean end of the stream.</summary>
    /// <exception cref="PythonProtocolException">A malformed frame.</exception>
    /// <exception cref="EndOfStreamException">The stream ended inside a frame: the worker died writing it.</exception>
    public async ValueTask<Frame?> ReadAsync(CancellationToken cancellationToken)
    {
        _start += _consumeOnNextRead;
        _consumeOnNextRead = 0;
        if (_start == _end)
        {
            _start = _end = 0;

            // A large buffer is kept while large frames keep coming (regrowing it per frame measured ~5x slower), and
            // given back after a run of small ones, so an idle worker does not hold it for its lifetime.
            if (_buffer.Length > 1024 * 1024 && ++_smallFramesSinceLarge > 16)
            {
                ArrayPool<byte>.Shared.Return(_buffer);
                _buffer = ArrayPool<byte>.Shared.Rent(16 * 1024);
                _smallFramesSinceLarge = 0;
            }
        }
        if (!await FillAsync(HeaderSize, cancellationToken).ConfigureAwait(false))
        {
            return null;
        }

        uint length = BinaryPrimitives.ReadUInt32BigEndian(_buffer.AsSpan(_start));
        if (length < MinBody || length > (uint)maxFrameSize - HeaderSize)
        {
            throw new PythonProtocolException(
                $"The worker sent a frame of {length} bytes; frames are {MinBody} to {maxFrameSize - HeaderSize} bytes (MaxFrameSize).");
        }

        int total = HeaderSize + (int)length;
        if (!await FillAsync(total, cancellationToken).ConfigureAwait(false))
        {
            throw new EndOfStreamException($"The worker's output ended inside a frame of {length} bytes.");
        }

        var body = _buffer.AsMemory(_start + HeaderSize, (int)length);
        var kind = (FrameKind)body.Span[0];
        ulong id = BinaryPrimitives.ReadUInt64BigEndian(body.Span[1..]);
        uint jsonLength = BinaryPrimitives.ReadUInt32BigEndian(body.Span[9..]);
        if (jsonLength > length - MinBody)
        {
            throw new PythonProtocolException($"The worker sent a frame whose JSON part ({jsonLength} bytes) overruns the frame ({length} bytes).");
        }

        if (kind is (< FrameKind.Init or > FrameKind.CallbackError) and (< FrameKind.Item or > FrameKind.Close) and not FrameKind.Spans)
        {
            throw new PythonProtocolException($"The worker sent a frame of unknown kind {(byte)kind}.");
        }

        var json = body.Slice(MinBody, (int)jsonLength);
        if (!Utf8.IsValid(json.Span))
        {
            throw new PythonProtocolException("The worker sent a frame whose JSON part is not valid UTF-8.");
        }

        // Whole (size, bytes) pairs to the end of the frame, whether or not the JSON references them.
        var attachments = body[(MinBody + (int)jsonLength)..];
        for (var rest = attachments.Span; !rest.IsEmpty;)
        {
            if (rest.Length < 4 || BinaryPrimitives.ReadUInt32BigEndian(rest) > (uint)(rest.Length - 4))
            {
                throw new PythonProtocolException($"The worker sent a frame whose attachments overrun it ({length} bytes).");
            }

            rest = rest[(4 + (int)BinaryPrimitives.ReadUInt32BigEndian(rest))..];
        }

        _consumeOnNextRead = total;
        if (total > 1024 * 1024)
        {
            _smallFramesSinceLarge = 0;
        }

        return new Frame(kind, id, json, attachments);
    }

    public void Dispose()
    {
        var buffer = Interlocked.Exchange(ref _buffer, []);
        if (buffer.Length > 0)
        {
            ArrayPool<byte>.Shared.Return(buffer);
        }
    }

    private async ValueTask<bool> FillAsync(int needed, CancellationToken cancellationToken)
    {
        while (_end - _start < needed)
        {
            if (_end == _buffer.Length)
            {
                if (_start > 0)
                {
                    Buffer.BlockCopy(_buffer, _start, _buffer, 0, _end - _start);
                    _end -= _start;
                    _start = 0;
                }
                else
                {
                    // Grow by doubling as the data arrives, never past what this frame needs (its length was checked
                    // against the maximum frame size): the buffer stays within twice what was received, so a lying
                    // length prefix costs little until it is backed by data. Large buffers are kept across large
                    // frames (above), so the doubling is paid once per run of them.
                    int size = Math.Min(needed, _buffer.Length * 2);
                    var larger = ArrayPool<byte>.Shared.Rent(size);
                    Buffer.BlockCopy(_buffer, 0, larger, 0, _end);
                    ArrayPool<byte>.Shared.Return(_buffer);
                    _buffer = larger;
                }
            }

            int read = await stream.ReadAsync(_buffer.AsMemory(_end), cancellationToken).ConfigureAwait(false);
            if (read == 0)
            {
                if (_end - _start == 0 && needed == HeaderSize)
                {
                    return false;
                }

                if (needed == HeaderSize)
                {
                    throw new EndOfStreamException("The worker's output ended inside a frame header.");
                }

                return false;
            }

            _end += read;
        }

        return true;
    }
}
