namespace Lifeguard.Python;

/// <summary>
/// Host callbacks: Python's <c>lifeguard.call_host(name, *args)</c> inside a call, answered by the callback registered
/// under that name (<see cref="PythonPoolOptions.Callbacks"/>), on the call's own frames (docs/protocol.md, "Callbacks").
/// </summary>
public sealed partial class PythonWorker
{
    /// <summary>
    /// The id of the callback being answered, 0 for none. Whoever exchanges it back to 0 answers it: the callback, or
    /// an interrupt that cannot wait for it (<see cref="InterruptAsync"/>).
    /// </summary>
    private ulong _pendingCallbackId;

    /// <summary>
    /// Answers one callback frame of the call in flight: runs the registered callback with the call's token and
    /// sends its result, or its error (an unknown name, an exception, a result that cannot cross the wire) as a
    /// callback error that Python raises in the caller of <c>lifeguard.call_host</c>. The callback's id is pending
    /// meanwhile, so that an interrupt can answer it first; then this answer is not sent.
    /// </summary>
    /// <exception cref="OperationCanceledException">The call's token fired while the callback ran.</exception>
    private async Task AnswerCallbackAsync(Frame frame, CancellationToken cancellationToken)
    {
        ulong callbackId = frame.Id;
        var (name, args) = _codec.ReadCallbackRequest(frame);
        object? result = null;
        Exception? error = null;
        if (!_settings.Callbacks.TryGetValue(name, out var callback))
        {
            error = PythonErrors.NoSuchCallback(name);
        }
        else
        {
            Volatile.Write(ref _pendingCallbackId, callbackId);
            try
            {
                result = await callback(args, cancellationToken).ConfigureAwait(false);
            }
            catch (OperationCanceledException) when (cancellationToken.IsCancellationRequested)
            {
                throw;
            }
            catch (Exception e)
            {
                error = e;
            }
        }

        if (Interlocked.Exchange(ref _pendingCallbackId, 0) == 0 && callback is not null)
        {
            return; // an interrupt already answered it
        }

        if (error is null)
        {
            error = _codec.WriteCallbackResult(_writer, name, result);
            if (error is null)
            {
                try
                {
                    await SendWholeAsync(FrameKind.CallbackResult, callbackId, cancellationToken).ConfigureAwait(false);
                    return;
                }
                catch (FrameTooLargeException e)
                {
                    // Attachments past the maximum: nothing was sent.
                    error = PythonErrors.CallbackResultTooLarge(_settings.PoolName, name, _writer.MaxFrameSize, e);
                }
            }
        }

        PythonCallCodec.WriteCallbackError(_writer, error!.GetType().Name, error.Message);
        await SendWholeAsync(FrameKind.CallbackError, callbackId, cancellationToken).ConfigureAwait(false);
    }

    private async Task SendCallbackErrorAsync(ulong callbackId, string type, string message, CancellationToken cancellationToken)
    {
        PythonCallCodec.WriteCallbackError(_writer, type, message);
        await _writer.SendAsync(FrameKind.CallbackError, callbackId, cancellationToken).ConfigureAwait(false);
    }
}
