namespace Lifeguard.Python;

/// <summary>The idle check: one ping frame, answered by the worker's main loop with a pong (docs/protocol.md, "Pings").</summary>
public sealed partial class PythonWorker
{
    private ulong _lastPingId;

    /// <summary>Whether the worker's hello announced the <c>ping</c> feature.</summary>
    private bool AnswersPings { get; set; }

    /// <summary>
    /// Pings the worker and waits for its pong: a worker between calls answers at once from its main loop, one that is
    /// stopped (SIGSTOP) or stuck in native code does not. False when the worker cannot take a call (in a call, stopped,
    /// dead) or answers with anything but the pong (a violation: killed and reported). A worker whose answer has not
    /// come when <paramref name="cancellationToken"/> fires is killed and reported, since a late pong would put its
    /// pipe out of step; then the token's exception is thrown. A worker whose runtime does not answer pings (it did
    /// not name the feature) passes while it runs.
    /// </summary>
    internal async ValueTask<bool> PingAsync(CancellationToken cancellationToken)
    {
        if (TryBeginCall() != Lifecycle.Ready)
        {
            return false;
        }

        bool sent = false;
        try
        {
            if (IsDead || !AnswersPings)
            {
                return !IsDead;
            }

            cancellationToken.ThrowIfCancellationRequested();
            ulong id = ++_lastPingId;
            var json = _writer.Begin();
            json.WriteStartObject();
            json.WriteEndObject();
            sent = true;
            await SendWholeAsync(FrameKind.Ping, id, cancellationToken).ConfigureAwait(false);
            if (await _reader.ReadAsync(cancellationToken).ConfigureAwait(false) is not { } frame)
            {
                return false; // it died: its exit is reported as any death is
            }

            if (frame.Kind != FrameKind.Pong || frame.Id != id)
            {
                _ = Violation($"expected the pong to ping {id}, got a {frame.Kind} frame with id {frame.Id}");
                return false;
            }

            return true;
        }
        catch (OperationCanceledException) when (cancellationToken.IsCancellationRequested)
        {
            if (sent)
            {
                PythonLog.PingNotAnswered(_logger, ProcessId);
                KillAndReport(PythonErrors.PingNotAnswered(_settings.PoolName, ProcessId));
            }

            throw;
        }
        catch (Exception e) when (e is IOException or ObjectDisposedException)
        {
            return false; // a broken pipe: the worker is dying, and its exit is reported
        }
        catch (PythonProtocolException e) when (e.PoolName is null)
        {
            _ = Violation(e.Message, e);
            return false;
        }
        finally
        {
            EndCall();
        }
    }
}
