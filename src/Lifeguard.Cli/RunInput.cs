namespace Lifeguard.Cli;

/// <summary>
/// One non-blank line of a JSON Lines file: its 0-based <paramref name="Index"/> among the non-blank lines, its 1-based
/// line <paramref name="Number"/> in the file, and its bytes without the line break. <paramref name="Bytes"/> is null
/// when the line was only scanned, or is longer than the reader's limit; <paramref name="Length"/> is its length either
/// way. <paramref name="End"/> is the file offset just past it (past its line break, when it has one).
/// </summary>
internal readonly record struct InputLine(long Index, long Number, byte[]? Bytes, long Length, long End, bool Terminated);

/// <summary>
/// Reads a JSON Lines file as bytes, line by line, in bounded memory: a line is never held as a string, a line over
/// the limit is scanned past and never held at all, and a long line in a regular file is read once more into an array
/// of exactly its size rather than grown into one (no doubling, no copies). A UTF-8 byte order mark at the start is
/// skipped; a line's trailing carriage return is not part of it. Not thread-safe.
/// </summary>
internal sealed class RunInput : IDisposable
{
    private const int BufferSize = 64 * 1024;
    private readonly Stream _stream;
    private readonly long _limit;
    private readonly byte[] _buffer = new byte[BufferSize];
    private int _start;
    private int _end;
    private long _offset; // file offset of _buffer[0]
    private long _number;
    private long _index;
    private bool _eof;
    private bool _started;

    private RunInput(Stream stream, long limit)
    {
        _stream = stream;
        _limit = limit;
    }

    /// <summary>Lines longer than this many bytes are scanned past, not read.</summary>
    public long Limit => _limit;

    public static RunInput Open(string path, long limit)
        => new(new FileStream(path, FileMode.Open, FileAccess.Read, FileShare.ReadWrite, bufferSize: 0, FileOptions.Asynchronous | FileOptions.SequentialScan), limit);

    /// <summary>The next non-blank line, or null at the end of the file; with <paramref name="read"/> false, only where it is.</summary>
    public async ValueTask<InputLine?> NextAsync(bool read, CancellationToken cancellationToken)
    {
        if (!_started)
        {
            _started = true;
            await FillAsync(cancellationToken).ConfigureAwait(false);
            if (_end - _start >= 3 && _buffer[0] == 0xEF && _buffer[1] == 0xBB && _buffer[2] == 0xBF)
            {
                _start = 3;
            }
        }

        while (true)
        {
            if (_start == _end && _eof)
            {
                return null;
            }

            long lineStart = _offset + _start;
            int newline = Array.IndexOf(_buffer, (byte)'\n', _start, _end - _start);
            if (newline >= 0)
            {
                // The common case: the whole line is in the buffer.
                ReadOnlySpan<byte> line = _buffer.AsSpan(_start, newline - _start);
                _start = newline + 1;
                _number++;
                if (IsBlank(line))
                {
                    continue;
                }

                line = TrimReturn(line);
                byte[]? bytes = read && line.Length <= _limit ? line.ToArray() : null;
                return new InputLine(_index++, _number, bytes, line.Length, _offset + _start, Terminated: true);
            }

            var (length, blank, terminated, chunks, last) = await ScanLongLineAsync(read, cancellationToken).ConfigureAwait(false);
            _number++;
            if (blank)
            {
                continue;
            }

            long end = _offset + _start;
            long contentLength = length - (last == (byte)'\r' ? 1 : 0);
            byte[]? content = null;
            if (read && contentLength <= _limit)
            {
                content = chunks is null ? await ReadAtAsync(lineStart, (int)contentLength, end, cancellationToken).ConfigureAwait(false) : Join(chunks, (int)contentLength);
            }

            return new InputLine(_index++, _number, content, contentLength, end, terminated);
        }
    }

    public void Dispose() => _stream.Dispose();

    /// <summary>
    /// Scans a line that does not end in the buffer, refilling it, to its line break or the end of the file. In a
    /// stream that cannot seek, the line is copied out as it goes (while within the limit); otherwise it is read
    /// again afterwards at its known size.
    /// </summary>
    private async ValueTask<(long Length, bool Blank, bool Terminated, List<byte[]>? Chunks, byte Last)> ScanLongLineAsync(bool read, CancellationToken cancellationToken)
    {
        long length = 0;
        bool blank = true;
        byte last = 0;
        List<byte[]>? chunks = read && !_stream.CanSeek ? [] : null;
        while (true)
        {
            int newline = Array.IndexOf(_buffer, (byte)'\n', _start, _end - _start);
            int stop = newline >= 0 ? newline : _end;
            var part = _buffer.AsSpan(_start, stop - _start);
            blank = blank && IsBlank(part);
            length += part.Length;
            if (part.Length > 0)
            {
                last = part[^1];
            }

            if (chunks is not null)
            {
                if (length <= _limit + 1)
                {
                    chunks.Add(part.ToArray());
                }
                else
                {
                    chunks.Clear(); // over the limit (a trailing return aside): it will not be read
                }
            }

            if (newline >= 0)
            {
                _start = newline + 1;
                return (length, blank, true, chunks, last);
            }

            _start = _end;
            if (_eof)
            {
                return (length, blank, false, chunks, last);
            }

            await FillAsync(cancellationToken).ConfigureAwait(false);
        }
    }

    private async ValueTask<byte[]> ReadAtAsync(long position, int length, long resume, CancellationToken cancellationToken)
    {
        var content = new byte[length];
        _stream.Position = position;
        await _stream.ReadExactlyAsync(content, cancellationToken).ConfigureAwait(false);
        _stream.Position = resume;
        _offset = resume;
        _start = _end = 0;
        _eof = false;
        await FillAsync(cancellationToken).ConfigureAwait(false);
        return content;
    }

    private static byte[] Join(List<byte[]> chunks, int length)
    {
        var content = new byte[length];
        int at = 0;
        foreach (var chunk in chunks)
        {
            int take = Math.Min(chunk.Length, length - at);
            chunk.AsSpan(0, take).CopyTo(content.AsSpan(at));
            at += take;
        }

        return content;
    }

    /// <summary>Moves what is left of the buffer to its front and reads more after it.</summary>
    private async ValueTask FillAsync(CancellationToken cancellationToken)
    {
        if (_start > 0)
        {
            _buffer.AsSpan(_start, _end - _start).CopyTo(_buffer);
            _offset += _start;
            _end -= _start;
            _start = 0;
        }

        while (!_eof && _end < _buffer.Length)
        {
            int n = await _stream.ReadAsync(_buffer.AsMemory(_end), cancellationToken).ConfigureAwait(false);
            if (n == 0)
            {
                _eof = true;
                break;
            }

            _end += n;
            if (Array.IndexOf(_buffer, (byte)'\n', _end - n, n) >= 0)
            {
                break; // a whole line is here: no need to wait for more
            }
        }
    }

    private static bool IsBlank(ReadOnlySpan<byte> line) => line.IndexOfAnyExcept(" \t\r"u8) < 0;

    private static ReadOnlySpan<byte> TrimReturn(ReadOnlySpan<byte> line) => line.Length > 0 && line[^1] == (byte)'\r' ? line[..^1] : line;
}
