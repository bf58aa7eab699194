using System.Runtime.InteropServices;

namespace Lifeguard.Cli;

/// <summary>
/// SIGINT and SIGTERM for <c>lifeguard run</c>. The first signal stops the reading of input at once and gives the calls
/// in flight a grace period, after which they are cancelled (the pool interrupts them, then kills their workers); a
/// second signal cancels them at once. Neither ends the process: the run writes what finished, prints its summary and
/// exits with <see cref="ExitCode"/>. Thread-safe.
/// </summary>
internal sealed class RunInterrupts : IDisposable
{
    private readonly CancellationTokenSource _stopReading = new();
    private readonly CancellationTokenSource _cancelCalls = new();
    private readonly TimeSpan _grace;
    private readonly PosixSignalRegistration[] _registrations;
    private readonly Action<bool> _notice;
    private int _signal;

    /// <summary>Handles SIGINT and SIGTERM from now until disposed.</summary>
    /// <param name="grace">How long calls in flight may go on after the first signal.</param>
    /// <param name="notice">Told of each signal as it is handled: false for the first, true for a second.</param>
    /// <param name="outer">A cancellation treated as a first SIGINT.</param>
    public RunInterrupts(TimeSpan grace, Action<bool> notice, CancellationToken outer)
    {
        _grace = grace;
        _notice = notice;
        _registrations =
        [
            PosixSignalRegistration.Create(PosixSignal.SIGINT, OnSignal),
            PosixSignalRegistration.Create(PosixSignal.SIGTERM, OnSignal),
        ];
        outer.Register(() => Interrupt(130));
    }

    /// <summary>Cancelled by the first signal: read no more input, start no more calls.</summary>
    public CancellationToken StopReading => _stopReading.Token;

    /// <summary>Cancelled once the grace period after the first signal is over, or by a second signal.</summary>
    public CancellationToken CancelCalls => _cancelCalls.Token;

    public bool Interrupted => Volatile.Read(ref _signal) != 0;

    /// <summary>130 after SIGINT, 143 after SIGTERM (128 + the signal's number, as shells report it).</summary>
    public int ExitCode => Volatile.Read(ref _signal);

    /// <summary>Stops the run without a signal (its output cannot be written): no more reading, calls cancelled now.</summary>
    public void Abort()
    {
        _stopReading.Cancel();
        _cancelCalls.Cancel();
    }

    /// <summary>Stops the reading without a signal (the run cannot go on): no more calls start; those in flight finish.</summary>
    public void StopReadingOnly()
    {
        try
        {
            _stopReading.Cancel();
        }
        catch (ObjectDisposedException)
        {
            // The run is over.
        }
    }

    public void Dispose()
    {
        foreach (var registration in _registrations)
        {
            registration.Dispose();
        }

        _stopReading.Dispose();
        _cancelCalls.Dispose();
    }

    private void OnSignal(PosixSignalContext context)
    {
        context.Cancel = true; // the run ends itself, after writing what finished
        Interrupt(context.Signal == PosixSignal.SIGTERM ? 143 : 130);
    }

    private void Interrupt(int exitCode)
    {
        try
        {
            bool first = Interlocked.CompareExchange(ref _signal, exitCode, 0) == 0;
            if (first)
            {
                _stopReading.Cancel();
                _cancelCalls.CancelAfter(_grace);
            }
            else
            {
                _cancelCalls.Cancel();
            }

            _notice(!first);
        }
        catch (ObjectDisposedException)
        {
            // The run is over.
        }
    }
}
