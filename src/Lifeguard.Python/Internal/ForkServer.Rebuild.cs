namespace Lifeguard.Python;

/// <summary>Rebuilding the template from the current files, for workers forked from then on.</summary>
internal sealed partial class ForkServer
{
    /// <summary>
    /// Starts a new template from the current files (the runtime, the <see cref="PythonPoolOptions.ModuleFiles"/> and
    /// the <see cref="PythonPoolOptions.Preload"/> imports run again) and, once it is ready, forks every later worker
    /// from it. The template it replaces forks no more; it keeps running while workers it forked do, so that they keep
    /// their parent (they die with it), their exit status (it reaps them) and their supervision, and it stops once
    /// the last of them has exited. One rebuild at a time; a server that gave up forking (threads in its template)
    /// has nothing to rebuild, and returns at once. Where the new template leaves threads running after its imports,
    /// the server gives up forking as at its start, and the pool spawns its workers, on the current files, from then
    /// on.
    /// </summary>
    /// <exception cref="PythonStartException">
    /// The new template failed (an import raised, it exited, it did not answer within
    /// <see cref="PythonPoolOptions.StartTimeout"/>): nothing changed, and workers are still forked from the template
    /// there was. Python's error is in <see cref="PythonStartException.PythonType"/> and the members beside it.
    /// </exception>
    /// <exception cref="PoolStoppedException">The server is stopping or stopped.</exception>
    /// <exception cref="OperationCanceledException"><paramref name="cancellationToken"/> was cancelled; nothing changed.</exception>
    public async Task RebuildAsync(CancellationToken cancellationToken)
    {
        await _rebuildGate.WaitAsync(cancellationToken).ConfigureAwait(false);
        try
        {
            lock (_gate)
            {
                if (_disposed)
                {
                    throw Stopped();
                }

                if (_disabled)
                {
                    return;
                }
            }

            var (template, failure) = await LaunchReadyAsync(cancellationToken).ConfigureAwait(false);
            if (template is not null)
            {
                if (!Install(template, replace: true))
                {
                    await DiscardAsync(template).ConfigureAwait(false);
                    throw Stopped();
                }

                return;
            }

            if (failure!.Threads)
            {
                // Disabled now: retire the template there was, whose code is the old one.
                RetireCurrent();
                return;
            }

            throw failure.Stopped ? Stopped() : PythonErrors.RebuildFailed(_settings.PoolName, failure.Reason, failure.PythonType, failure.PythonMessage, failure.PythonTraceback);
        }
        finally
        {
            _rebuildGate.Release();
        }
    }

    private void RetireCurrent()
    {
        Template? old;
        lock (_gate)
        {
            old = _template;
            _template = null;
            if (old is not null)
            {
                old.Retired = true;
                _retired.Add(old);
            }
        }

        if (old is not null)
        {
            StopIfDrained(old);
        }
    }

    private PoolStoppedException Stopped() => new($"Pool '{_settings.PoolName}' is stopping: its fork server is not rebuilt.", _settings.PoolName);
}
