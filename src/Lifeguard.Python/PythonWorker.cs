using System.Diagnostics;
using Microsoft.Extensions.Logging;

namespace Lifeguard.Python;

// Lifecycle
//
// One Lifecycle value in _state (a volatile field), moved only by compare-and-swap (Move, TryBeginCall). It is the
// product of two facts: whether a call is in progress (the ...Calling states), and how the worker stands with its pool:
//   Ready      running; its pool has heard nothing of its end.
//   Ended      its end was reported to the pool (the process exited, or was killed for a protocol violation or an
//              interrupt it ignored), or claimed unreported by a start that failed (the start's exception says it).
//   Stopped    disposed by its pool before it Ended: an intended stop, never reported as a death.
//   Disposed   disposed after it Ended.
//
// Transitions; every other is refused by leaving the state as it is:
//   begin call    Ready -> Calling, only. Refused from a ...Calling state (InvalidOperationException: calls do not
//                 overlap), from Stopped (PoolStoppedException), from Ended or Disposed (PythonWorkerCrashedException);
//                 a refused call changes nothing and touches nothing.
//   end call      X-Calling -> X, for each X. Leaving StoppedCalling or DisposedCalling, the call releases the call
//                 resources.
//   end (report)  Ready -> Ended, Calling -> EndedCalling (TryClaimEnd): the thread that moves it reports the end.
//   dispose       Ready -> Stopped, Calling -> StoppedCalling, Ended -> Disposed, EndedCalling -> DisposedCalling;
//                 from Stopped or Disposed (either form) it only waits for the exit. Having moved from Ready or Ended,
//                 dispose releases the call resources once the process is gone; while StoppedCalling, it interrupts
//                 the call (SIGINT), which then fails with PoolStoppedException.
//
// Invariants:
//   1. At most one call is in progress, and only the call that moved Ready -> Calling uses the reader, the writer,
//      the call-timeout and send-abort sources, and writes _current and _trace.
//   2. The pool is told of the worker's end at most once, and never once it stopped the worker itself.
//   3. The call resources are released exactly once, after their last use: by dispose if it found no call in
//      progress, else by that call as it ends. No call begins after dispose.
//   4. Stopped and Disposed are final, up to the end of a call in progress: nothing moves back to Ready, Calling or
//      Ended.
//
// Outside the state: _dead, set once by the process's exit event. It is a fact about the process, not the worker's
// standing with its pool, and comes at any point of the lifecycle (a killed worker is Ended before it has exited; a
// Stopped one exits later still), so folding it in would double every state. It orders the exit (report the end if
// nobody claimed it, then complete _exited), and it guards signals: once the exit is seen, the pid may be another
// process's. _pendingCallbackId (PythonWorker.Callbacks.cs) is not lifecycle either: it is which callback answer is
// owed, exchanged between a callback and an interrupt.
//
// A stream (PythonWorker.Stream.cs) is a call in progress for its whole enumeration: it begins as a call does, and ends
// (end call) when the enumeration is disposed, after its generator finished, was closed or interrupted, or the worker
// died. Its items and credit are the call's own exchange on the reader and the writer (invariant 1), so it needs no
// state of its own here; report, dispose and release keep the transitions above.

/// <summary>
/// One <c>python3</c> process serving one call at a time over a framed protocol on its stdin and stdout. Obtained
/// from a <see cref="PythonPool"/>; holding its lease keeps every call on this process (load data, then query it).
/// Thread-safe for status reads; calls must not overlap (a second concurrent call throws).
/// </summary>
public sealed partial class PythonWorker : IWorkerStatusProvider, IAsyncDisposable
{
    private readonly PythonWorkerSettings _settings;
    private readonly WorkerProcess _process;
    private readonly FrameWriter _writer;
    private readonly FrameReader _reader;
    private readonly PythonCallCodec _codec;
    private readonly StderrPump _output;
    private readonly WorkerContext? _context;
    private readonly ILogger _logger;
    private readonly TaskCompletionSource _exited = new(TaskCreationOptions.RunContinuationsAsynchronously);
    private ulong _lastCallId;
    private volatile Lifecycle _state;
    private int _dead;
    private int? _exitCode;
    private CurrentCall? _current;
    private long _memoryCheckedAt;
    private CancellationTokenSource? _callTimeout;
    private CancellationTokenSource? _sendAbort;
    private SharedMemoryArena? _arena;

    private PythonWorker(PythonWorkerSettings settings, WorkerProcess process, WorkerContext? context)
    {
        _settings = settings;
        _process = process;
        _context = context;
        _logger = settings.LoggerFactory.CreateLogger("Lifeguard.Python.Worker");
        ProcessId = process.Id;
        _writer = new FrameWriter(process.Input, settings.MaxFrameSize);
        _reader = new FrameReader(process.Output, settings.MaxFrameSize);
        _codec = new PythonCallCodec(settings.Json, settings.PoolName);
        _output = new StderrPump(process.Error, process.Id, _logger, settings.StderrTailLines, settings.PoolName, settings.OnOutput);
        process.OnExit(OnExited);
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
    public long? ResidentMemoryBytes => ProcMemory.Resident(ProcessId);

    /// <summary>Whether the pool's fork server forked this worker (<see cref="PythonStartMode.ForkServer"/>) rather than spawned it.</summary>
    internal bool IsForked => _process is ForkedWorkerProcess;

    /// <inheritdoc />
    public void AddStatusDetails(IDictionary<string, object?> details)
    {
        ArgumentNullException.ThrowIfNull(details);
        details["pid"] = ProcessId;
        details["python"] = PythonVersion;
        details["rss"] = ResidentMemoryBytes;
        if (IsForked)
        {
            // What MaxWorkerMemory is compared with for a forked worker: its RSS counts the template's shared pages.
            details["pss"] = _process.CeilingMemoryBytes;
        }
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
        // A worker that had not Ended is stopped by its pool, an intended stop: its exit is not a death to report.
        // If a call is running on it, the pool is stopping and the call outlasted DrainTimeout: that call fails with
        // PoolStoppedException.
        var from = Move(static s => s switch
        {
            Lifecycle.Ready => Lifecycle.Stopped,
            Lifecycle.Calling => Lifecycle.StoppedCalling,
            Lifecycle.Ended => Lifecycle.Disposed,
            Lifecycle.EndedCalling => Lifecycle.DisposedCalling,
            _ => s,
        });
        if (from is not (Lifecycle.Ready or Lifecycle.Calling or Lifecycle.Ended or Lifecycle.EndedCalling))
        {
            await _exited.Task.ConfigureAwait(false);
            return;
        }

        // Closing its input is the polite stop: the runtime exits at the end of its input.
        _process.CloseInput();

        if (_state == Lifecycle.StoppedCalling)
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
        // A call in progress (the worker died under it, or the pool stopped it under the call) releases them itself
        // when it ends: releasing the reader's pooled buffer under it would let another renter write into it, and a
        // disposed timeout source would fail the call untyped.
        if (from is Lifecycle.Ready or Lifecycle.Ended)
        {
            ReleaseCallResources();
        }

        _process.Dispose();
    }

    /// <summary>
    /// Releases what calls use (the reader's pooled buffer, the shared memory, the timeout and send-abort sources). Called once: by
    /// <see cref="DisposeAsync"/> when it found no call in progress, else by that call as it ends (the lifecycle, top of this file).
    /// </summary>
    private void ReleaseCallResources()
    {
        _reader.Dispose();
        _arena?.Dispose();
        _callTimeout?.Dispose();
        _sendAbort?.Dispose();
    }

    /// <summary>Whether large bytes go through shared memory with this worker (both sides offered it).</summary>
    internal bool UsesSharedMemory => _arena is not null;

    /// <summary>The shared-memory segments this worker has mapped now (0 to 2), for tests.</summary>
    internal int SharedSegments => _arena?.Segments ?? 0;

    /// <summary>Whether the pool stopped this worker (Stopped or StoppedCalling): an intended stop, not a death.</summary>
    private bool StoppedByPool => _state is Lifecycle.Stopped or Lifecycle.StoppedCalling;

    /// <summary>Ready → Calling; the one way a call begins. Returns the state it found (Ready when it moved).</summary>
    private Lifecycle TryBeginCall() => Interlocked.CompareExchange(ref _state, Lifecycle.Calling, Lifecycle.Ready);

    /// <summary>X·Calling → X; releases the call resources when the worker was disposed under the call.</summary>
    private void EndCall()
    {
        var from = Move(static s => s switch
        {
            Lifecycle.Calling => Lifecycle.Ready,
            Lifecycle.EndedCalling => Lifecycle.Ended,
            Lifecycle.StoppedCalling => Lifecycle.Stopped,
            Lifecycle.DisposedCalling => Lifecycle.Disposed,
            _ => s,
        });
        Debug.Assert(from is Lifecycle.Calling or Lifecycle.EndedCalling or Lifecycle.StoppedCalling or Lifecycle.DisposedCalling, $"a call ended in {from}");
        if (from is Lifecycle.StoppedCalling or Lifecycle.DisposedCalling)
        {
            ReleaseCallResources();
        }
    }

    /// <summary>
    /// Ready → Ended, Calling → EndedCalling: claims the one report of this worker's end. False when it Ended already
    /// or was disposed (an intended stop is not reported).
    /// </summary>
    private bool TryClaimEnd()
        => Move(static s => s switch
        {
            Lifecycle.Ready => Lifecycle.Ended,
            Lifecycle.Calling => Lifecycle.EndedCalling,
            _ => s,
        }) is Lifecycle.Ready or Lifecycle.Calling;

    /// <summary>
    /// Moves <see cref="_state"/> by <paramref name="next"/> (the new state for a given one; the same state for none)
    /// with compare-and-swap, retrying when another thread moved it first. Returns the state it moved from.
    /// </summary>
    private Lifecycle Move(Func<Lifecycle, Lifecycle> next)
    {
        var seen = _state;
        while (true)
        {
            var target = next(seen);
            if (target == seen)
            {
                return seen;
            }

            var was = Interlocked.CompareExchange(ref _state, target, seen);
            if (was == seen)
            {
                return seen;
            }

            seen = was;
        }
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
        return _process.CeilingMemoryBytes > ceiling;
    }

    /// <summary>SIGKILL, by the process we hold (a pidfd for a forked worker); never its group or by name.</summary>
    internal void Kill() => _process.Kill();

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
        if (TryClaimEnd())
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
        if (TryClaimEnd())
        {
            _context?.ReportTerminated(reason);
        }

        Kill();
    }

    private int SafeExitCode() => _exitCode ?? ReadExitCode();

    private int ReadExitCode() => _process.ExitCode;

    private PythonWorkerCrashedException CrashException(string what, int exitCode, Exception? inner)
        => PythonErrors.Crashed(_settings.PoolName, ProcessId, what, exitCode, Volatile.Read(ref _current)?.Function, _output.Tail(), inner);

    private sealed record CurrentCall(string Function, long StartedAt);

    /// <summary>The worker's lifecycle; its transitions and invariants are written at the top of this file.</summary>
    private enum Lifecycle
    {
        /// <summary>Running, no call in progress; the one state a call begins from.</summary>
        Ready,

        /// <summary>Running, one call in progress.</summary>
        Calling,

        /// <summary>Its end was reported to the pool (or claimed by a failed start); no call in progress.</summary>
        Ended,

        /// <summary>Ended under a call that is still failing.</summary>
        EndedCalling,

        /// <summary>Disposed by its pool before it Ended: an intended stop.</summary>
        Stopped,

        /// <summary>Stopped under a call, which fails with <see cref="PoolStoppedException"/> and releases the call resources.</summary>
        StoppedCalling,

        /// <summary>Disposed after it Ended.</summary>
        Disposed,

        /// <summary>Disposed after it Ended, under a call that releases the call resources as it ends.</summary>
        DisposedCalling,
    }
}
