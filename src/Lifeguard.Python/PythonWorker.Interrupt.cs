namespace Lifeguard.Python;

/// <summary>Interrupting a call: SIGINT, repeated until the call answers, then a grace period, then kill.</summary>
public sealed partial class PythonWorker
{
    private static readonly TimeSpan InterruptResendInterval = TimeSpan.FromMilliseconds(100);

    /// <summary>
    /// Interrupts the running call: SIGINT raises KeyboardInterrupt inside it (or cancels its asyncio task). Waits up
    /// to the grace period for the worker to reply to the call; returns whether it had to be killed instead.
    /// </summary>
    private async Task<bool> InterruptAsync(ulong id, string name, string reason)
    {
        PythonLog.CallInterrupted(_logger, ProcessId, name, reason);
        if (IsDead || !_process.TrySignal(NativeMethods.SIGINT))
        {
            await WaitForExitAsync().ConfigureAwait(false);
            return true;
        }

        using var grace = new CancellationTokenSource(_settings.CancelGracePeriod, _settings.Time);

        // The worker ignores SIGINT between calls (it must: a late one could hit the next call). So a cancel that
        // lands after the call was sent but before Python entered the function would be lost: repeat the signal
        // until the reply to this call arrives. The last one is handled before the worker reads another frame.
        // Signals go by pid: once the worker is known to have exited, its pid may be another process's.
        using var resend = _settings.Time.CreateTimer(
            static s => ((PythonWorker)s!).SignalUnlessExited(NativeMethods.SIGINT), this, InterruptResendInterval, InterruptResendInterval);
        try
        {
            // A call blocked in lifeguard.call_host defers the interrupt until it has its answer: give it one.
            if (Interlocked.Exchange(ref _pendingCallbackId, 0) is var pending and not 0)
            {
                await SendCallbackErrorAsync(pending, "OperationCanceledException", "the call was cancelled", grace.Token).ConfigureAwait(false);
            }

            while (true)
            {
                var frame = await _reader.ReadAsync(grace.Token).ConfigureAwait(false);
                if (frame is null)
                {
                    await WaitForExitAsync().ConfigureAwait(false);
                    return true;
                }

                if (frame.Value.Kind == FrameKind.Callback)
                {
                    await SendCallbackErrorAsync(frame.Value.Id, "OperationCanceledException", "the call was cancelled", grace.Token).ConfigureAwait(false);
                    continue;
                }

                if (frame.Value.Id == id && frame.Value.Kind == FrameKind.Spans)
                {
                    RecordSpans(frame.Value, name); // what the interrupted call did, up to its interruption
                    continue;
                }

                if (frame.Value.Id == id && frame.Value.Kind is FrameKind.Result or FrameKind.Error or FrameKind.StreamEnd)
                {
                    return false; // the worker stopped the call (or the stream) and is ready for the next
                }

                if (frame.Value.Id == id && frame.Value.Kind == FrameKind.Item)
                {
                    continue; // an item of the interrupted stream, yielded before the interrupt
                }

                if (frame.Value.Id == id && frame.Value.Kind is FrameKind.SegmentRequest or FrameKind.SegmentRetire && _arena is not null)
                {
                    // The call was writing its reply when the interrupt came: it gets its room, and its reply follows.
                    try
                    {
                        await OnSegmentFrameAsync(frame.Value).ConfigureAwait(false);
                    }
                    catch (PythonProtocolException e)
                    {
                        _ = Violation(e.Message, e);
                        return true;
                    }

                    continue;
                }

                _ = Violation($"expected the reply to interrupted call {id}, got a {frame.Value.Kind} frame with id {frame.Value.Id}");
                return true;
            }
        }
        catch (OperationCanceledException) when (grace.IsCancellationRequested)
        {
            PythonLog.KilledAfterInterrupt(_logger, ProcessId, name);
            KillAndReport(PythonErrors.IgnoredInterrupt(_settings.PoolName, ProcessId, name, _settings.CancelGracePeriod));
            return true;
        }
        catch (Exception e) when (e is IOException or ObjectDisposedException)
        {
            await WaitForExitAsync().ConfigureAwait(false);
            return true;
        }
        catch (PythonProtocolException e)
        {
            _ = Violation(e.Message, e);
            return true;
        }
    }

    private void SignalUnlessExited(int signal)
    {
        if (!IsDead)
        {
            _process.TrySignal(signal);
        }
    }
}
