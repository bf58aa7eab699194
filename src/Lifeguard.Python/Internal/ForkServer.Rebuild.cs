using System.ComponentModel;
using System.Text.Json;

namespace Lifeguard.Python;

/// <summary>Rebuilding the template from the current files, for workers forked from then on.</summary>
internal sealed partial class ForkServer
{
    // Guarded by _gate: templates replaced by a rebuild, kept while workers they forked run (they are their parent).
    private readonly HashSet<Template> _retired = [];
    private readonly SemaphoreSlim _rebuildGate = new(1, 1);

    /// <summary>
    /// Starts a new template from the current files (the runtime, the module files and the preload imports run again)
    /// and, once it is ready, forks every later worker from it. The template it replaces forks no more; it keeps
    /// running while workers it forked do, and stops once the last of them has exited. One rebuild at a time; a
    /// server that gave up forking has nothing to rebuild and returns at once; where the new template leaves threads
    /// running, the server gives up forking, and the pool spawns its workers from then on.
    /// </summary>
    /// <exception cref="PythonStartException">The new template failed: nothing changed.</exception>
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

            Template? template = null;
            string? failure;
            Template? old;
            try
            {
                template = await LaunchAsync().ConfigureAwait(false);
                using var timeout = new CancellationTokenSource(_settings.StartTimeout, _settings.Time);
                using var linked = CancellationTokenSource.CreateLinkedTokenSource(timeout.Token, _stopping.Token, cancellationToken);
                await template.SendAsync("{\"config\":" + PythonWorker.InitJson(_settings) + "}\n", linked.Token).ConfigureAwait(false);
                var answer = await template.ReadLineAsync(linked.Token).ConfigureAwait(false);
                lock (_gate)
                {
                    old = _template;
                }

                failure = Accept(template, answer);
            }
            catch (OperationCanceledException) when (!_stopping.IsCancellationRequested && !cancellationToken.IsCancellationRequested)
            {
                old = null;
                failure = $"its template did not answer within {_settings.StartTimeout} (StartTimeout)";
            }
            catch (Exception e) when (e is IOException or Win32Exception or FileNotFoundException or DirectoryNotFoundException or JsonException or InvalidOperationException or OperationCanceledException)
            {
                old = null;
                failure = e is OperationCanceledException ? null : e.Message;
                if (failure is null)
                {
                    await DiscardAsync(template).ConfigureAwait(false);
                    cancellationToken.ThrowIfCancellationRequested();
                    throw Stopped();
                }
            }

            if (failure is null)
            {
                Retire(old); // the template there was forks no more
                return;
            }

            if (failure == "threads")
            {
                // The server gave up forking: the pool spawns its workers, on the current files, from now on.
                await DiscardAsync(template).ConfigureAwait(false);
                Retire(TakeCurrent());
                return;
            }

            await DiscardAsync(template).ConfigureAwait(false);
            throw RebuildFailed(failure);
        }
        finally
        {
            _rebuildGate.Release();
        }
    }

    /// <summary>A retired template that forked nothing still running is stopped (politely: it exits at the end of its input).</summary>
    private void StopIfDrained(Template template)
    {
        bool drained;
        lock (_gate)
        {
            drained = _retired.Contains(template) && template.Children.Count == 0;
        }

        if (drained)
        {
            template.CloseInput();
        }
    }

    /// <summary>Called when a template has died: true if it was retired (it is not restarted), and forgets it.</summary>
    private bool ForgetRetired(Template template)
    {
        lock (_gate)
        {
            return _retired.Remove(template);
        }
    }

    /// <summary>The retired templates still running, taken at the server's stop.</summary>
    private List<Template> TakeRetired()
    {
        lock (_gate)
        {
            return [.. _retired];
        }
    }

    private Template? TakeCurrent()
    {
        lock (_gate)
        {
            var current = _template;
            _template = null;
            return current;
        }
    }

    private void Retire(Template? template)
    {
        if (template is null)
        {
            return;
        }

        lock (_gate)
        {
            _retired.Add(template);
        }

        StopIfDrained(template);
    }

    private async Task DiscardAsync(Template? template)
    {
        if (template is not null)
        {
            template.Kill();
            await template.StopAsync(_settings.Time).ConfigureAwait(false);
            template.Dispose();
        }
    }

    /// <summary>Python's error, as the template reported it (its traceback's last line names the type and the message).</summary>
    private PythonStartException RebuildFailed(string failure)
    {
        string message = $"The fork server of pool '{_settings.PoolName}' could not rebuild its template from the current files: {failure}".TrimEnd();
        var last = failure.TrimEnd().Split('\n')[^1];
        int colon = last.IndexOf(": ", StringComparison.Ordinal);
        return colon > 0 && !last[..colon].Contains(' ', StringComparison.Ordinal)
            ? new PythonStartException(message, _settings.PoolName, last[..colon], last[(colon + 2)..], failure)
            : new PythonStartException(message, _settings.PoolName);
    }

    private PoolStoppedException Stopped() => new($"Pool '{_settings.PoolName}' is stopping: its fork server is not rebuilt.", _settings.PoolName);
}
