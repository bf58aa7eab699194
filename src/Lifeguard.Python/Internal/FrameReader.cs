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

        var frame = Parse(_buffer.AsMemory(_start + HeaderSize, (int)length));
        _consumeOnNextRead = total;
        if (total > 1024 * 1024)
        {
            _smallFramesSinceLarge = 0;
        }

        return frame;
    }

    /// <summary>
    /// Checks a frame's body (all of it after the length prefix, whose value was checked to be from 13 bytes to the
    /// maximum) and returns the frame over it: the JSON part inside the body and valid UTF-8, a known kind, whole
    /// (size, bytes) attachment pairs to its end. A frame that arrived another way (a remote pool's message) is
    /// checked by the same rules.
    /// </summary>
    /// <exception cref="PythonProtocolException">A rule is broken.</exception>
    public static Frame Parse(ReadOnlyMemory<byte> body, bool remote = false)
    {
        int length = body.Length;
        var kind = (FrameKind)body.Span[0];
        ulong id = BinaryPrimitives.ReadUInt64BigEndian(body.Span[1..]);
        uint jsonLength = BinaryPrimitives.ReadUInt32BigEndian(body.Span[9..]);
        if (jsonLength > length - MinBody)
        {
            throw new PythonProtocolException($"The worker sent a frame whose JSON part ({jsonLength} bytes) overruns the frame ({length} bytes).");
        }

        if (kind is (< FrameKind.Init or > FrameKind.CallbackError) and (< FrameKind.Item or > FrameKind.Close) and not (FrameKind.Spans or FrameKind.SegmentRequest or FrameKind.SegmentRetire or FrameKind.Pong)
            && !(remote && kind is >= FrameKind.RemoteFirst and <= FrameKind.RemoteLast))
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

        return new Frame(kind, id, json, attachments);
    }

    /// <summary>
    /// A whole frame held in one array (length prefix, kind, id, JSON, attachments), as a remote pool's message
    /// carries one (where the remote-pool kinds, 80 to 95, are allowed too), checked by the rules of <see cref="Parse"/> and <paramref name="maxFrameSize"/>.
    /// </summary>
    /// <exception cref="PythonProtocolException">A rule is broken.</exception>
    public static Frame ParseWhole(ReadOnlyMemory<byte> message, int maxFrameSize)
    {
        if (message.Length < HeaderSize + MinBody || message.Length > maxFrameSize)
        {
            throw new PythonProtocolException(
                $"The message holds {message.Length} bytes; a frame is {HeaderSize + MinBody} to {maxFrameSize} bytes (MaxFrameSize).");
        }

        uint length = BinaryPrimitives.ReadUInt32BigEndian(message.Span);
        if (length != message.Length - HeaderSize)
        {
            throw new PythonProtocolException($"The message holds {message.Length} bytes, but its frame says {length} follow its length prefix.");
        }

        return Parse(message[HeaderSize..], remote: true);
    }

    /// <summary>
    /// A frame of <paramref name="kind"/> as one array, with a zero id: the JSON part and the raw attachment
    /// section (repeated u32 big-endian length, bytes) as they are.
    /// </summary>
    public static byte[] Compose(FrameKind kind, ReadOnlySpan<byte> json, ReadOnlySpan<byte> attachments)
    {
        var bytes = new byte[HeaderSize + MinBody + json.Length + attachments.Length];
        BinaryPrimitives.WriteUInt32BigEndian(bytes, (uint)(bytes.Length - HeaderSize));
        bytes[4] = (byte)kind;
        BinaryPrimitives.WriteUInt32BigEndian(bytes.AsSpan(13), (uint)json.Length);
        json.CopyTo(bytes.AsSpan(HeaderSize + MinBody));
        attachments.CopyTo(bytes.AsSpan(HeaderSize + MinBody + json.Length));
        return bytes;
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
