using System.ComponentModel;
using System.Globalization;
using System.Text;
using System.Text.Json;

namespace Lifeguard.Python;

/// <summary>The template process: its start, its reports, its death and restart.</summary>
internal sealed partial class ForkServer
{
    /// <summary>The longest control line the host reads from a template.</summary>
    private const int MaxControlLine = 64 * 1024;

    /// <summary>Starts a template and waits for its answer; on any failure, schedules the next try.</summary>
    private async Task StartTemplateAsync()
    {
        Template? template = null;
        string? failure;
        try
        {
            template = await LaunchAsync().ConfigureAwait(false);
            using var timeout = new CancellationTokenSource(_settings.StartTimeout, _settings.Time);
            using var linked = CancellationTokenSource.CreateLinkedTokenSource(timeout.Token, _stopping.Token);
            await template.SendAsync("{\"config\":" + PythonWorker.InitJson(_settings) + "}\n", linked.Token).ConfigureAwait(false);
            var answer = await template.ReadLineAsync(linked.Token).ConfigureAwait(false);
            failure = Accept(template, answer);
        }
        catch (OperationCanceledException) when (!_stopping.IsCancellationRequested)
        {
            failure = $"its template did not answer within {_settings.StartTimeout} (StartTimeout)";
        }
        catch (OperationCanceledException)
        {
            failure = null;
        }
        catch (Exception e) when (e is IOException or Win32Exception or FileNotFoundException or DirectoryNotFoundException or JsonException or InvalidOperationException)
        {
            failure = e.Message;
        }

        if (failure is null)
        {
            return;
        }

        if (template is not null)
        {
            template.Kill();
            await template.StopAsync(_settings.Time).ConfigureAwait(false);
            template.Dispose();
        }

        if (!Disabled)
        {
            var delay = NextRestartDelay(died: null);
            if (delay is { } d)
            {
                PythonLog.ForkServerFailed(_logger, _settings.PoolName, d, failure);
                _ = RestartAfterAsync(d);
            }
        }
    }

    /// <summary>Takes the template's first answer: ready (null), threads (disabled for good), or why it failed.</summary>
    private string? Accept(Template template, byte[]? answer)
    {
        if (answer is null)
        {
            return $"its template exited before it was ready. Its output:\n{template.Output.Tail()}".TrimEnd();
        }

        using var document = JsonDocument.Parse(answer);
        var root = document.RootElement;
        if (root.TryGetProperty("ready"u8, out _))
        {
            lock (_gate)
            {
                if (_disposed)
                {
                    return "the pool stopped";
                }

                _template = template;
            }

            PythonLog.ForkServerReady(_logger, _settings.PoolName, template.Process.Id);
            template.ReadLoop = ReadLoopAsync(template);
            return null;
        }

        if (root.TryGetProperty("threads"u8, out var modules))
        {
            lock (_gate)
            {
                _disabled = true;
            }

            var names = string.Join(", ", modules.EnumerateArray().Select(m => m.GetString()));
            PythonLog.ForkServerThreads(_logger, _settings.PoolName, root.GetProperty("count"u8).GetInt32(), names);
            return "threads";
        }

        return root.TryGetProperty("error"u8, out var error) ? error.GetString() ?? "an error" : "it sent " + Encoding.UTF8.GetString(answer);
    }

    private async Task<Template> LaunchAsync()
    {
        // The template runs the bundled runtime; the pool's entry script (its own, or a test's) is what each forked
        // worker runs after the fork.
        var info = PythonWorker.CreateStartInfo(_settings, [
            RuntimeDeployer.EntryScript,
            "--fork-server",
            Environment.ProcessId.ToString(CultureInfo.InvariantCulture),
            _settings.MaxFrameSize.ToString(CultureInfo.InvariantCulture),
            _socketPath,
            _settings.EntryScript,
        ]);
        var process = await ProcessLauncher.StartAsync(info).ConfigureAwait(false);
        return new Template(process, new StderrPump(process.StandardError.BaseStream, process.Id, _logger, _settings.StderrTailLines, _settings.PoolName, _settings.OnOutput), _settings.Time.GetTimestamp());
    }

    /// <summary>Reads a ready template's reports until it exits; then its workers are told, and it is restarted.</summary>
    private async Task ReadLoopAsync(Template template)
    {
        try
        {
            while (await template.ReadLineAsync(CancellationToken.None).ConfigureAwait(false) is { } line)
            {
                Handle(template, line);
            }
        }
        catch (Exception e) when (e is IOException or JsonException or InvalidOperationException or KeyNotFoundException or FormatException)
        {
            // A template that breaks its own channel is killed and replaced like one that died.
            template.Kill();
        }

        await template.WaitForExitAsync(_settings.Time).ConfigureAwait(false);
        List<object> children;
        List<PendingFork> pending;
        lock (_gate)
        {
            template.Dead = true;
            if (_template == template)
            {
                _template = null;
            }

            children = [.. template.Children.Values];
            template.Children.Clear();
            pending = [.. _pending.Values.Where(p => p.Owner == template && !p.Finished)];
            foreach (var p in pending)
            {
                p.Finished = true;
            }
        }

        foreach (var child in children.OfType<ForkedWorkerProcess>())
        {
            child.TemplateDied();
        }

        foreach (var p in pending)
        {
            p.Protocol?.Dispose();
            p.Error?.Dispose();
            p.Failure = "its template died";
            p.Done.TrySetResult(null);
        }

        if (!ForgetRetired(template) && NextRestartDelay(template) is { } delay)
        {
            PythonLog.ForkServerDied(_logger, _settings.PoolName, template.Process.Id, template.ExitCode, delay);
            _ = RestartAfterAsync(delay);
        }

        await template.Output.Completion.WaitAsync(TimeSpan.FromSeconds(2), _settings.Time, CancellationToken.None).ConfigureAwait(ConfigureAwaitOptions.SuppressThrowing);
        template.Dispose();
    }

    /// <summary>One report of a ready template: a fork's pid, a fork that failed, or a child's exit.</summary>
    private void Handle(Template template, byte[] line)
    {
        using var document = JsonDocument.Parse(line);
        var root = document.RootElement;
        if (root.TryGetProperty("exit"u8, out var exitPid))
        {
            int pid = exitPid.GetInt32();
            int code = root.GetProperty("code"u8).GetInt32();
            object? child;
            PendingFork? early = null;
            lock (_gate)
            {
                if (template.Children.Remove(pid, out child) && child is PendingFork named)
                {
                    if (!named.Finished)
                    {
                        // It died before it connected both streams: no worker; the start spawns one instead.
                        named.Finished = true;
                        early = named;
                    }
                    else
                    {
                        // Completing right now (TryComplete): the worker takes this code once it is watched.
                        named.ExitCode = code;
                    }
                }
            }

            if (child is ForkedWorkerProcess worker)
            {
                worker.ReportExit(code);
                StopIfDrained(template);
            }
            else if (early is not null)
            {
                early.Protocol?.Dispose();
                early.Error?.Dispose();
                early.Failure = $"the forked {pid} exited (exit code {code}) before it connected. The template's output:\n{template.Output.Tail()}".TrimEnd();
                early.Done.TrySetResult(null);
            }

            return;
        }

        bool forked = root.TryGetProperty("forked"u8, out var token);
        if (!forked && !root.TryGetProperty("forkFailed"u8, out token))
        {
            return;
        }

        PendingFork? pending;
        lock (_gate)
        {
            if (!_pending.TryGetValue(token.GetString()!, out pending) || pending.Finished)
            {
                pending = null;
            }
            else if (forked)
            {
                pending.Pid = root.GetProperty("pid"u8).GetInt32();
                template.Children[pending.Pid] = pending;
            }
            else
            {
                pending.Finished = true;
            }
        }

        if (pending is null)
        {
            if (forked)
            {
                // The request was abandoned (its start timed out or was cancelled) before the child was named.
                NativeMethods.TrySignal(root.GetProperty("pid"u8).GetInt32(), NativeMethods.SIGKILL);
            }

            return;
        }

        if (forked)
        {
            TryComplete(pending);
        }
        else
        {
            pending.Failure = root.TryGetProperty("error"u8, out var error) ? error.GetString() : "fork failed";
            pending.Done.TrySetResult(null);
        }
    }

    /// <summary>The delay before the next template, doubling while templates die young; null once stopped or disabled.</summary>
    private TimeSpan? NextRestartDelay(Template? died)
    {
        lock (_gate)
        {
            if (_disposed || _disabled)
            {
                return null;
            }

            if (died is not null && _settings.Time.GetElapsedTime(died.StartedAt) >= HealthyAfter)
            {
                _restartDelay = FirstRestartDelay;
            }

            var delay = _restartDelay;
            _restartDelay = TimeSpan.FromTicks(Math.Min(_restartDelay.Ticks * 2, MaxRestartDelay.Ticks));
            return delay;
        }
    }

    private async Task RestartAfterAsync(TimeSpan delay)
    {
        try
        {
            await Task.Delay(delay, _restartTime, _stopping.Token).ConfigureAwait(false);
        }
        catch (OperationCanceledException)
        {
            return;
        }

        await StartTemplateAsync().ConfigureAwait(false);
    }
}
