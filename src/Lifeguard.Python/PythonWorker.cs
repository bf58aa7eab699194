using System.Diagnostics;
using System.Globalization;
using Microsoft.Extensions.Logging;

namespace Lifeguard.Python;

/// <summary>
/// One <c>python3</c> process serving one call at a time over a framed protocol on its stdin and stdout. Obtained
/// from a <see cref="PythonPool"/>; holding its lease keeps every call on this process (load data, then query it).
/// Thread-safe for status reads; calls must not overlap (a second concurrent call throws).
/// </summary>
public sealed partial class PythonWorker : IWorkerStatusProvider, IAsyncDisposable
{
    private readonly PythonWorkerSettings _settings;
    private readonly Process _process;
    private readonly FrameWriter _writer;
    private readonly FrameReader _reader;
    private readonly StderrPump _output;
    private readonly WorkerContext? _context;
    private readonly ILogger _logger;
    private readonly TaskCompletionSource _exited = new(TaskCreationOptions.RunContinuationsAsynchronously);
    private ulong _lastCallId;
    private int _busy;
    private int _dead;
    private int _reported;
    private int _disposed;
    private int _released;
    private ulong _pendingCallbackId;
    private int? _exitCode;
    private CurrentCall? _current;
    private long _memoryCheckedAt;
    private CancellationTokenSource? _callTimeout;
    private CancellationTokenSource? _sendAbort;
    private int _stoppedByPool;

    private PythonWorker(PythonWorkerSettings settings, Process process, WorkerContext? context)
    {
        _settings = settings;
        _process = process;
        _context = context;
        _logger = settings.LoggerFactory.CreateLogger("Lifeguard.Python.Worker");
        ProcessId = process.Id;
        _writer = new FrameWriter(process.StandardInput.BaseStream, settings.MaxFrameSize);
        _reader = new FrameReader(process.StandardOutput.BaseStream, settings.MaxFrameSize);
        _output = new StderrPump(process.StandardError.BaseStream, process.Id, _logger, settings.StderrTailLines, settings.PoolName, settings.OnOutput);
        process.Exited += (_, _) => OnExited();
        if (process.HasExited)
        {
            OnExited();
        }
    }

    /// <summary>The worker's operating-system process id.</summary>
    public int ProcessId { get; }

    /// <summary>The interpreter's version, e.g. <c>3.11.7</c>.</summary>
    public string PythonVersion { get; private set; } = "";

    /// <summary>The version of the Lifeguard runtime inside the worker.</summary>
    public string RuntimeVersion { get; private set; } = "";

    /// <summary>Whether the process has exited or was killed.</summary>
    public bool IsDead => Volatile.Read(ref _dead) != 0;

    /// <summary>The process's current resident memory in bytes, or <see langword="null"/> if it cannot be read.</summary>
    public long? ResidentMemoryBytes
    {
        get
        {
            try
            {
                var statm = File.ReadAllText($"/proc/{ProcessId}/statm");
                var fields = statm.Split(' ');
                return fields.Length > 1 ? long.Parse(fields[1], CultureInfo.InvariantCulture) * Environment.SystemPageSize : null;
            }
            catch (Exception e) when (e is IOException or UnauthorizedAccessException or FormatException)
            {
                return null;
            }
        }
    }

    /// <inheritdoc />
    public void AddStatusDetails(IDictionary<string, object?> details)
    {
        ArgumentNullException.ThrowIfNull(details);
        details["pid"] = ProcessId;
        details["python"] = PythonVersion;
        details["rss"] = ResidentMemoryBytes;
        if (Volatile.Read(ref _current) is { } call)
        {
            details["call"] = call.Function;
            details["call.elapsed"] = _settings.Time.GetElapsedTime(call.StartedAt);
        }
    }

    /// <inheritdoc />
    int? IWorkerStatusProvider.ProcessId => ProcessId;

    /// <inheritdoc />
    long? IWorkerStatusProvider.GetResidentMemoryBytes() => ResidentMemoryBytes;

    /// <inheritdoc />
    /// <remarks>The call's start time is the one the call path records anyway; reading it here costs the call nothing.</remarks>
    WorkerCall? IWorkerStatusProvider.GetCurrentCall()
        => Volatile.Read(ref _current) is { } call ? new WorkerCall(call.Function, _settings.Time.GetElapsedTime(call.StartedAt)) : null;

    /// <inheritdoc />
    /// <remarks>The last <see cref="PythonPoolOptions.StderrTailLines"/> lines of stderr (where <c>print()</c> goes too), each at most 8 KiB.</remarks>
    IReadOnlyList<string> IWorkerStatusProvider.GetOutputTail() => _output.TailLines();

    /// <summary>Closes the worker's input, waits briefly for it to exit, and kills it if it does not.</summary>
    public async ValueTask DisposeAsync()
    {
        // An intended stop: its exit is not a death to report to the pool. A worker that had not died or been
        // reported is stopped by its pool; if a call is running on it, the pool is stopping and the call outlasted
        // DrainTimeout: that call fails with PoolStoppedException. Written before _disposed, so that a call which
        // sees _disposed also sees why.
        if (Interlocked.Exchange(ref _reported, 1) == 0)
        {
            Volatile.Write(ref _stoppedByPool, 1);
        }

        if (Interlocked.Exchange(ref _disposed, 1) != 0)
        {
            await _exited.Task.ConfigureAwait(false);
            return;
        }

        try
        {
            // Closing stdin is the polite stop: the runtime exits at the end of its input.
            _process.StandardInput.Close();
        }
        catch (IOException)
        {
            // Already gone.
        }

        if (Volatile.Read(ref _stoppedByPool) != 0 && Volatile.Read(ref _busy) != 0)
        {
            // A running call does not read its input: interrupt it (KeyboardInterrupt, so its finally blocks run);
            // the worker answers it, reads the end of its input and exits. A call that ignores it is killed below.
            SignalUnlessExited(NativeMethods.SIGINT);
        }

        try
        {
            await _exited.Task.WaitAsync(TimeSpan.FromSeconds(2), _settings.Time, CancellationToken.None).ConfigureAwait(false);
        }
        catch (TimeoutException)
        {
            Kill();
            await _exited.Task.ConfigureAwait(false);
        }

        await _output.Completion.WaitAsync(TimeSpan.FromSeconds(2), _settings.Time, CancellationToken.None).ConfigureAwait(ConfigureAwaitOptions.SuppressThrowing);
        // A call in progress (the worker died under it, or its holder is just starting one) releases them itself
        // when it ends: releasing the reader's pooled buffer under it would let another renter write into it, and a
        // disposed timeout source would fail the call untyped.
        if (Volatile.Read(ref _busy) == 0)
        {
            ReleaseCallResources();
        }

        _process.Dispose();
    }

    /// <summary>
    /// Releases what calls use (the reader's pooled buffer, the timeout and send-abort sources), once. Called by
    /// <see cref="DisposeAsync"/> when no call is in progress, and by a call that ends on a disposed worker. Each side
    /// writes its own flag (<c>_disposed</c>, <c>_busy</c>) with a full fence before reading the other's, so at least
    /// one of them sees the other and releases; a call that starts after the release sees <c>_disposed</c> and
    /// touches nothing.
    /// </summary>
    private void ReleaseCallResources()
    {
        if (Interlocked.Exchange(ref _released, 1) != 0)
        {
            return;
        }

        _reader.Dispose();
        _callTimeout?.Dispose();
        _sendAbort?.Dispose();
    }

    /// <summary>Whether the process's memory exceeds the pool's ceiling; read at most every 100 ms per worker.</summary>
    internal bool ExceedsMemoryCeiling()
    {
        if (_settings.MaxWorkerMemory is not { } ceiling)
        {
            return false;
        }

        long now = _settings.Time.GetTimestamp();
        if (_settings.Time.GetElapsedTime(Volatile.Read(ref _memoryCheckedAt), now) < TimeSpan.FromMilliseconds(100))
        {
            return false;
        }

        Volatile.Write(ref _memoryCheckedAt, now);
        return ResidentMemoryBytes > ceiling;
    }

    internal void Kill()
    {
        try
        {
            // By the pid we hold, this process only; never its group or by name.
            _process.Kill(entireProcessTree: false);
        }
        catch (InvalidOperationException)
        {
            // Already exited.
        }
    }

    private void OnExited()
    {
        if (Interlocked.Exchange(ref _dead, 1) != 0)
        {
            return;
        }

        // Kept now: the pool may dispose the Process (stopping the dead worker) while a failing call still reports it.
        _exitCode = ReadExitCode();

        // Report before completing _exited: a caller that awaits the exit (to build its crash report) must find
        // the pool already told, or its own checkin could mistake the death for something else.
        if (Interlocked.Exchange(ref _reported, 1) == 0)
        {
            int code = SafeExitCode();
            PythonLog.WorkerExited(_logger, ProcessId, code);
            _context?.ReportTerminated(CrashException("exited", code, inner: null));
        }

        _exited.TrySetResult();
    }

    /// <summary>Kills the process and tells the pool why, once; its exit is then not reported again.</summary>
    private void KillAndReport(Exception reason)
    {
        if (Interlocked.Exchange(ref _reported, 1) == 0)
        {
            _context?.ReportTerminated(reason);
        }

        Kill();
    }

    private int SafeExitCode() => _exitCode ?? ReadExitCode();

    private int ReadExitCode()
    {
        try
        {
            return _process.ExitCode;
        }
        catch (InvalidOperationException)
        {
            return -1;
        }
    }

    private PythonWorkerCrashedException CrashException(string what, int exitCode, Exception? inner)
    {
        int? signal = exitCode > 128 && exitCode < 128 + 65 ? exitCode - 128 : null;
        var tail = _output.Tail();
        var message = new System.Text.StringBuilder()
            .Append(CultureInfo.InvariantCulture, $"Python worker {ProcessId} of pool '{_settings.PoolName}' {what}")
            .Append(signal is { } s ? $" (killed by signal {s}{SignalName(s)}, exit code {exitCode})" : $" (exit code {exitCode})")
            .Append(Volatile.Read(ref _current) is { } call ? $" while running {call.Function}." : ".")
            .Append(tail.Length > 0 ? $" Last output:\n{tail}" : " It wrote nothing.")
            .ToString();
        return new PythonWorkerCrashedException(message, _settings.PoolName, ProcessId, exitCode, signal, tail, inner);
    }

    private static string SignalName(int signal) => signal switch
    {
        2 => " SIGINT",
        6 => " SIGABRT",
        9 => " SIGKILL",
        11 => " SIGSEGV",
        15 => " SIGTERM",
        _ => "",
    };

    private sealed record CurrentCall(string Function, long StartedAt);
}
