using System.Text;
using Microsoft.Extensions.Logging;

namespace Lifeguard.Python;

/// <summary>
/// Drains a worker's stderr (which also carries its stdout) continuously, line by line, into the host's logger, and
/// keeps the last lines for crash reports. Lines longer than <see cref="MaxLineBytes"/> are cut into pieces, so memory
/// stays bounded whatever the worker writes. Thread-safe.
/// </summary>
internal sealed class StderrPump
{
    public const int MaxLineBytes = 8 * 1024;
    private readonly Queue<string> _tail = new();
    private readonly int _tailLines;
    private readonly ILogger _logger;
    private int _pid;

    public StderrPump(Stream stream, ILogger logger, int tailLines)
    {
        _logger = logger;
        _tailLines = tailLines;
        Completion = Task.Run(() => PumpAsync(stream));
    }

    /// <summary>Completes when the stream ends.</summary>
    public Task Completion { get; }

    public int ProcessId
    {
        set => Volatile.Write(ref _pid, value);
    }

    public string Tail()
    {
        lock (_tail)
        {
            return string.Join('\n', _tail);
        }
    }

    private async Task PumpAsync(Stream stream)
    {
        var buffer = new byte[4096];
        var line = new byte[MaxLineBytes];
        int length = 0;
        try
        {
            while (true)
            {
                int read = await stream.ReadAsync(buffer).ConfigureAwait(false);
                if (read == 0)
                {
                    break;
                }

                for (int i = 0; i < read; i++)
                {
                    byte b = buffer[i];
                    if (b == (byte)'\n' || length == line.Length)
                    {
                        Emit(line.AsSpan(0, length));
                        length = 0;
                        if (b == (byte)'\n')
                        {
                            continue;
                        }
                    }

                    line[length++] = b;
                }
            }
        }
        catch (Exception e) when (e is IOException or ObjectDisposedException)
        {
            // The process is gone; what was read is kept.
        }

        if (length > 0)
        {
            Emit(line.AsSpan(0, length));
        }
    }

    private void Emit(ReadOnlySpan<byte> bytes)
    {
        if (bytes.Length > 0 && bytes[^1] == (byte)'\r')
        {
            bytes = bytes[..^1];
        }

        var text = Encoding.UTF8.GetString(bytes);
        lock (_tail)
        {
            _tail.Enqueue(text);
            while (_tail.Count > _tailLines)
            {
                _tail.Dequeue();
            }
        }

        PythonLog.WorkerOutput(_logger, Volatile.Read(ref _pid), text);
    }
}
