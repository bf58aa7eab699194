using System.Diagnostics;
using System.Text;

namespace Lifeguard.Python;

/// <summary>The template process itself: its control channel, its children, its stop.</summary>
internal sealed partial class ForkServer
{
    /// <summary>Why a template did not become ready; with Python's error when an import or a module file raised.</summary>
    private sealed record TemplateFailure(string Reason)
    {
        public string? PythonType { get; init; }

        public string? PythonMessage { get; init; }

        public string? PythonTraceback { get; init; }

        /// <summary>Threads ran after its imports: the server is disabled for good.</summary>
        public bool Threads { get; init; }

        /// <summary>The server stopped while it started.</summary>
        public bool Stopped { get; init; }
    }

    /// <summary>One template process and its children. The children map and <see cref="Dead"/> are under the server's gate.</summary>
    private sealed class Template(Process process, StderrPump output, long startedAt) : IDisposable
    {
        private readonly SemaphoreSlim _sendGate = new(1, 1);
        private readonly byte[] _buffer = new byte[MaxControlLine];
        private int _start;
        private int _end;

        public Process Process { get; } = process;

        public StderrPump Output { get; } = output;

        public long StartedAt { get; } = startedAt;

        /// <summary>pid → the <see cref="PendingFork"/> it was forked for, then its <see cref="ForkedWorkerProcess"/>, until it is reaped.</summary>
        public Dictionary<int, object> Children { get; } = [];

        public bool Dead { get; set; }

        /// <summary>A rebuild replaced it: it forks no more, and is stopped once its last child is reaped.</summary>
        public bool Retired { get; set; }

        /// <summary>Its control channel is being closed, by <see cref="StopIfDrained"/>.</summary>
        public bool Stopping { get; set; }

        /// <summary>The loop that reads a ready template's reports, and handles its death; it disposes the template.</summary>
        public Task ReadLoop { get; set; } = Task.CompletedTask;

        public int ExitCode
        {
            get
            {
                try
                {
                    return Process.ExitCode;
                }
                catch (InvalidOperationException)
                {
                    return -1;
                }
            }
        }

        public async Task SendAsync(string line, CancellationToken cancellationToken)
        {
            var bytes = Encoding.UTF8.GetBytes(line);
            await _sendGate.WaitAsync(cancellationToken).ConfigureAwait(false);
            try
            {
                var stream = Process.StandardInput.BaseStream;
                await stream.WriteAsync(bytes, cancellationToken).ConfigureAwait(false);
                await stream.FlushAsync(cancellationToken).ConfigureAwait(false);
            }
            finally
            {
                _sendGate.Release();
            }
        }

        /// <summary>The next control line without its newline; null at the end. One reader at a time.</summary>
        /// <exception cref="InvalidOperationException">A line longer than <see cref="MaxControlLine"/>.</exception>
        public async Task<byte[]?> ReadLineAsync(CancellationToken cancellationToken)
        {
            while (true)
            {
                int newline = Array.IndexOf(_buffer, (byte)'\n', _start, _end - _start);
                if (newline >= 0)
                {
                    var line = _buffer[_start..newline];
                    _start = newline + 1;
                    return line;
                }

                if (_start > 0)
                {
                    Buffer.BlockCopy(_buffer, _start, _buffer, 0, _end - _start);
                    (_start, _end) = (0, _end - _start);
                }

                if (_end == _buffer.Length)
                {
                    throw new InvalidOperationException($"the fork server's template sent a control line over {MaxControlLine} bytes.");
                }

                int read = await Process.StandardOutput.BaseStream.ReadAsync(_buffer.AsMemory(_end), cancellationToken).ConfigureAwait(false);
                if (read == 0)
                {
                    return null;
                }

                _end += read;
            }
        }

        public void Kill()
        {
            try
            {
                Process.Kill(entireProcessTree: false);
            }
            catch (InvalidOperationException)
            {
                // Exited already.
            }
        }

        public async Task WaitForExitAsync(TimeProvider time)
        {
            using var timeout = new CancellationTokenSource(TimeSpan.FromSeconds(5), time);
            try
            {
                await Process.WaitForExitAsync(timeout.Token).ConfigureAwait(false);
            }
            catch (OperationCanceledException)
            {
                Kill();
                await Process.WaitForExitAsync(CancellationToken.None).ConfigureAwait(false);
            }
        }

        /// <summary>The polite stop: the template exits at the end of its control input.</summary>
        public void CloseInput()
        {
            try
            {
                Process.StandardInput.Close();
            }
            catch (IOException)
            {
                // Gone already.
            }
        }

        /// <summary>Stops a template that never became ready: the polite stop, then a kill if it does not exit.</summary>
        public async Task StopAsync(TimeProvider time)
        {
            CloseInput();
            await WaitForExitAsync(time).ConfigureAwait(false);
            await Output.Completion.WaitAsync(TimeSpan.FromSeconds(2), time, CancellationToken.None).ConfigureAwait(ConfigureAwaitOptions.SuppressThrowing);
        }

        public void Dispose()
        {
            _sendGate.Dispose();
            Process.Dispose();
        }
    }
}
