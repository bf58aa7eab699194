using System.Net.Sockets;

namespace Lifeguard.Python;

/// <summary>
/// A worker forked by the pool's fork server: the template's child, so the host watches it through a pidfd (its exit)
/// and learns its exit status from the template, which reaps it. Its protocol channel and its stderr are the two Unix
/// socket connections it made back to the host. Thread-safe.
/// </summary>
internal sealed class ForkedWorkerProcess : WorkerProcess
{
    /// <summary>How long the exit status may take to follow the exit, from a template that is still alive.</summary>
    private static readonly TimeSpan ReportWait = TimeSpan.FromSeconds(2);

    private readonly NetworkStream _protocol;
    private readonly NetworkStream _error;
    private readonly int _pidfd;
    private readonly TaskCompletionSource<int> _reported = new(TaskCreationOptions.RunContinuationsAsynchronously);
    private readonly TaskCompletionSource _exited = new(TaskCreationOptions.RunContinuationsAsynchronously);
    private readonly Lock _pidfdGate = new();
    private bool _pidfdClosed;
    private int _exitCode = -1;
    private int _disposed;

    private ForkedWorkerProcess(int pid, int pidfd, Socket protocol, Socket error)
    {
        Id = pid;
        _pidfd = pidfd;
        _protocol = new NetworkStream(protocol, ownsSocket: true);
        _error = new NetworkStream(error, ownsSocket: true);
        var watcher = new Thread(Watch, maxStackSize: 256 * 1024) { IsBackground = true, Name = "Lifeguard worker " + pid };
        watcher.Start();
    }

    public override int Id { get; }

    public override Stream Input => _protocol;

    public override Stream Output => _protocol;

    public override Stream Error => _error;

    public override int ExitCode => Volatile.Read(ref _exitCode);

    /// <summary>PSS, not RSS: the pages it still shares copy-on-write with its template count for its share only.</summary>
    public override long? CeilingMemoryBytes => ProcMemory.Proportional(Id);

    /// <summary>
    /// Watches <paramref name="pid"/>, the template's child that connected <paramref name="protocol"/> and
    /// <paramref name="error"/>; null (and the sockets closed) if it is gone already.
    /// </summary>
    public static ForkedWorkerProcess? Open(int pid, Socket protocol, Socket error)
    {
        int pidfd = NativeMethods.PidfdOpen(pid, out _);
        if (pidfd < 0)
        {
            protocol.Dispose();
            error.Dispose();
            return null;
        }

        return new ForkedWorkerProcess(pid, pidfd, protocol, error);
    }

    /// <summary>The template reaped this worker: its exit code, or 128 + the signal that killed it.</summary>
    public void ReportExit(int code) => _reported.TrySetResult(code);

    /// <summary>The template died: no exit status will come (the worker dies with it, by its parent-death signal).</summary>
    public void TemplateDied() => _reported.TrySetResult(-1);

    public override void OnExit(Action onExit) => _ = _exited.Task.ContinueWith(static (_, state) => ((Action)state!)(), onExit, CancellationToken.None, TaskContinuationOptions.ExecuteSynchronously, TaskScheduler.Default);

    public override void CloseInput()
    {
        try
        {
            _protocol.Socket.Shutdown(SocketShutdown.Send);
        }
        catch (Exception e) when (e is SocketException or ObjectDisposedException)
        {
            // Already gone.
        }
    }

    public override void Kill() => TrySignal(NativeMethods.SIGKILL);

    public override bool TrySignal(int signal)
    {
        // Under the gate: the watcher closes the pidfd after the exit, and its number may be reused at once.
        lock (_pidfdGate)
        {
            return !_pidfdClosed && NativeMethods.PidfdSignal(_pidfd, signal);
        }
    }

    public override void Dispose()
    {
        if (Interlocked.Exchange(ref _disposed, 1) != 0)
        {
            return;
        }

        _protocol.Dispose();
        _error.Dispose();
    }

    private void Watch()
    {
        NativeMethods.WaitUntilReadable(_pidfd);

        // Exited. The status comes from the template, which reaps it; a template that died (or hangs) sends none.
        if (_reported.Task.Wait(ReportWait))
        {
            Volatile.Write(ref _exitCode, _reported.Task.Result);
        }

        lock (_pidfdGate)
        {
            _pidfdClosed = true;
            NativeMethods.CloseDescriptor(_pidfd);
        }

        _exited.TrySetResult();
    }
}
