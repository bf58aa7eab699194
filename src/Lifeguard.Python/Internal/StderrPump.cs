using System.Text;
using Microsoft.Extensions.Logging;

namespace Lifeguard.Python;

/// <summary>
/// Drains a worker's stderr (which also carries its stdout) continuously, line by line, into the host's logger and
/// the pool's output handler (<see cref="PythonPoolOptions.OnOutput"/>), and keeps the last lines for crash reports.
/// Lines longer than <see cref="MaxLineBytes"/> are cut into pieces, so memory stays bounded whatever the worker
/// writes. Thread-safe; the logger and the handler are called from the pump's own loop only, one line at a time.
/// </summary>
internal sealed class StderrPump
{
    public const int MaxLineBytes = 8 * 1024;
    private readonly Queue<string> _tail = new();
    private readonly int _tailLines;
    private readonly ILogger _logger;
    private readonly string _poolName;
    private readonly Action<PythonOutputLine>? _onOutput;
    private readonly int _pid;
    private bool _handlerFailureLogged;

    public StderrPump(Stream stream, int processId, ILogger logger, int tailLines, string poolName, Action<PythonOutputLine>? onOutput)
    {
        // Set before the pump starts: its first line already names the worker.
        _pid = processId;
        _logger = logger;
        _tailLines = tailLines;
        _poolName = poolName;
        _onOutput = onOutput;
        Completion = Task.Run(() => PumpAsync(stream));
    }

    /// <summary>Completes when the stream ends.</summary>
    public Task Completion { get; }

    public string Tail()
    {
        lock (_tail)
        {
            return string.Join('\n', _tail);
        }
    }

    /// <summary>The kept lines, oldest first: a copy.</summary>
    public string[] TailLines()
    {
        lock (_tail)
        {
            return [.. _tail];
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

        int pid = _pid;
        PythonLog.WorkerOutput(_logger, pid, text);
        if (_onOutput is { } handler)
        {
            try
            {
                handler(new PythonOutputLine(_poolName, pid, text));
            }
            catch (Exception e)
            {
                // The user's handler must not stop the pump: an undrained pipe would block the worker. Logged once
                // per worker (the pump is its only caller, so the flag needs no lock), then the next line is tried.
                if (!_handlerFailureLogged)
                {
                    _handlerFailureLogged = true;
                    PythonLog.OutputHandlerFailed(_logger, pid, _poolName, e);
                }
            }
        }
    }
}
