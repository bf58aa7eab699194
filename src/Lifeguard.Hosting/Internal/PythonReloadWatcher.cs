using Microsoft.Extensions.Logging;

namespace Lifeguard.Hosting.Internal;

/// <summary>
/// ReloadOnChange: watches the <c>.py</c> files under a Python pool's module paths and, once they have been quiet for
/// the debounce, reloads the pool. Changes during a reload make one more reload after it. A failed reload is logged,
/// never thrown: the host goes on, and the pool serves the code it had. Thread-safe; state under <c>_gate</c>.
/// </summary>
internal sealed class PythonReloadWatcher : IDisposable
{
    private readonly string _pool;
    private readonly Func<CancellationToken, Task> _reload;
    private readonly TimeSpan _debounce;
    private readonly ILogger _logger;
    private int _reloads;
    private readonly Lock _gate = new();
    private readonly ITimer _timer;
    private readonly List<FileSystemWatcher> _watchers = [];
    private readonly CancellationTokenSource _disposed = new();
    private string? _changed; // the last changed path since the last reload began
    private bool _reloading;
    private bool _stopped;

    public PythonReloadWatcher(
        string pool, Func<CancellationToken, Task> reload, TimeSpan debounce, TimeProvider time, ILogger logger)
    {
        _pool = pool;
        _reload = reload;
        _debounce = debounce;
        _logger = logger;
        _timer = time.CreateTimer(static s => ((PythonReloadWatcher)s!).OnQuiet(), this, Timeout.InfiniteTimeSpan, Timeout.InfiniteTimeSpan);
    }

    /// <summary>The reloads finished so far (succeeded or failed), for tests.</summary>
    public int Reloads => Volatile.Read(ref _reloads);

    /// <summary>Watches every existing directory of <paramref name="directories"/>, and its subdirectories.</summary>
    public void Watch(IEnumerable<string> directories)
    {
        foreach (var directory in directories.Distinct(StringComparer.Ordinal))
        {
            if (!Directory.Exists(directory))
            {
                continue;
            }

            try
            {
                var watcher = new FileSystemWatcher(directory, "*.py")
                {
                    IncludeSubdirectories = true,
                    NotifyFilter = NotifyFilters.FileName | NotifyFilters.LastWrite | NotifyFilters.Size | NotifyFilters.DirectoryName,
                };
                watcher.Changed += (_, e) => OnChanged(e.FullPath);
                watcher.Created += (_, e) => OnChanged(e.FullPath);
                watcher.Deleted += (_, e) => OnChanged(e.FullPath);
                watcher.Renamed += (_, e) => OnChanged(e.FullPath);
                watcher.EnableRaisingEvents = true;
                _watchers.Add(watcher);
            }
            catch (Exception e) when (e is IOException or ArgumentException or PlatformNotSupportedException or UnauthorizedAccessException)
            {
                HostingLog.ReloadWatchFailed(_logger, e, _pool, directory);
            }
        }
    }

    /// <summary>A watched file changed: the reload waits until the files have been quiet for the debounce.</summary>
    public void OnChanged(string path)
    {
        lock (_gate)
        {
            if (_stopped)
            {
                return;
            }

            _changed = path;
            if (!_reloading)
            {
                _timer.Change(_debounce, Timeout.InfiniteTimeSpan);
            }
        }
    }

    private void OnQuiet()
    {
        string changed;
        lock (_gate)
        {
            if (_stopped || _reloading || _changed is null)
            {
                return;
            }

            changed = _changed;
            _changed = null;
            _reloading = true;
        }

        _ = ReloadAsync(changed);
    }

    private async Task ReloadAsync(string changed)
    {
        HostingLog.ReloadingOnChange(_logger, _pool, changed);
        try
        {
            await _reload(_disposed.Token).ConfigureAwait(false);
            HostingLog.ReloadedOnChange(_logger, _pool);
        }
        catch (Exception e) when (e is PoolStoppedException || (e is OperationCanceledException && _disposed.IsCancellationRequested))
        {
            // The pool or the host is stopping: nothing to reload.
        }
        catch (Exception e)
        {
            // Development aid: a broken file is logged, and the next save tries again.
            HostingLog.ReloadOnChangeFailed(_logger, e, _pool);
        }

        lock (_gate)
        {
            _reloading = false;
            if (!_stopped && _changed is not null)
            {
                // Saved again while it reloaded: once more, after the files have been quiet again.
                _timer.Change(_debounce, Timeout.InfiniteTimeSpan);
            }

            // Counted last, so whoever sees the count also sees the next reload's timer armed.
            Volatile.Write(ref _reloads, _reloads + 1);
        }
    }

    public void Dispose()
    {
        lock (_gate)
        {
            if (_stopped)
            {
                return;
            }

            _stopped = true;
        }

        foreach (var watcher in _watchers)
        {
            watcher.Dispose();
        }

        _timer.Dispose();
        _disposed.Cancel();
    }
}
