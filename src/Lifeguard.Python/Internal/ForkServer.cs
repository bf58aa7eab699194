using System.Net.Sockets;
using System.Security.Cryptography;
using System.Text;
using System.Text.Json;
using Microsoft.Extensions.Logging;

namespace Lifeguard.Python;

/// <summary>
/// A pool's fork server (<see cref="PythonStartMode.ForkServer"/>): one template process that has imported the runtime
/// and the pool's modules forks each worker on request (lifeguard/_forkserver.py, docs/protocol.md "The fork server").
/// Each forked worker connects back to this host's Unix socket twice, its stderr and its protocol channel, naming the
/// one-time token of its request. The template is supervised: when it dies, it is restarted with backoff, and until it
/// is back <see cref="TryForkAsync"/> returns null, so the worker is spawned. Thread-safe; state under <c>_gate</c>.
/// </summary>
internal sealed partial class ForkServer : IAsyncDisposable
{
    private const int TokenBytes = 16;
    private static readonly TimeSpan FirstRestartDelay = TimeSpan.FromMilliseconds(100);
    private static readonly TimeSpan MaxRestartDelay = TimeSpan.FromSeconds(30);

    /// <summary>A template that served this long before it died is restarted after the first delay again.</summary>
    private static readonly TimeSpan HealthyAfter = TimeSpan.FromSeconds(30);

    /// <summary>How long a connection may take to name its token.</summary>
    private static readonly TimeSpan IdentifyTimeout = TimeSpan.FromSeconds(10);

    private readonly PythonWorkerSettings _settings;
    private readonly TimeProvider _restartTime;
    private readonly ILogger _logger;
    private readonly DirectoryInfo _directory;
    private readonly string _socketPath;
    private readonly Socket _listener;
    private readonly string _envJson;
    private readonly Lock _gate = new();
    private readonly Dictionary<string, PendingFork> _pending = new(StringComparer.Ordinal);
    private readonly CancellationTokenSource _stopping = new();
    private Template? _template;
    private TimeSpan _restartDelay = FirstRestartDelay;
    private bool _disabled;
    private bool _disposed;

    private ForkServer(PythonWorkerSettings settings, TimeProvider restartTime)
    {
        _settings = settings;
        _restartTime = restartTime;
        _logger = settings.LoggerFactory.CreateLogger("Lifeguard.Python.ForkServer");

        // mkdtemp: mode 0700 and an unpredictable name, so only this user reaches the socket; a short path, for
        // sun_path's 108 bytes.
        _directory = Directory.CreateTempSubdirectory("lifeguard-fork-");
        _socketPath = Path.Combine(_directory.FullName, "s");
        _listener = new Socket(AddressFamily.Unix, SocketType.Stream, ProtocolType.Unspecified);
        _listener.Bind(new UnixDomainSocketEndPoint(_socketPath));
        _listener.Listen(128);
        _envJson = EnvironmentJson(settings);
        _ = AcceptLoopAsync();
    }

    /// <summary>The Unix socket forked workers connect back to.</summary>
    public string SocketPath => _socketPath;

    /// <summary>The template's pid while one is ready, else null.</summary>
    public int? TemplateProcessId
    {
        get
        {
            lock (_gate)
            {
                return _template?.Process.Id;
            }
        }
    }

    /// <summary>Whether the pool gave up forking for good (threads ran in the template after its imports).</summary>
    public bool Disabled
    {
        get
        {
            lock (_gate)
            {
                return _disabled;
            }
        }
    }

    /// <summary>
    /// Starts a pool's fork server and waits (under <see cref="PythonWorkerSettings.StartTimeout"/>) for its template
    /// to be ready. Null where forking is not available (not Linux): the pool spawns.
    /// </summary>
    public static async Task<ForkServer?> StartAsync(PythonWorkerSettings settings, TimeProvider? restartTime)
    {
        if (!OperatingSystem.IsLinux())
        {
            return null;
        }

        var server = new ForkServer(settings, restartTime ?? settings.Time);
        await server.StartTemplateAsync().ConfigureAwait(false);
        return server;
    }

    /// <summary>
    /// Forks a worker: its process, connected and watched, before its handshake. Null when the template is not there
    /// or could not fork (the caller spawns the worker instead).
    /// </summary>
    /// <exception cref="OperationCanceledException"><paramref name="cancellationToken"/> was cancelled; nothing is left running.</exception>
    public async Task<WorkerProcess?> TryForkAsync(CancellationToken cancellationToken)
    {
        var token = Convert.ToHexStringLower(RandomNumberGenerator.GetBytes(TokenBytes));
        PendingFork pending;
        lock (_gate)
        {
            if (_template is not { } owner)
            {
                return null;
            }

            pending = new PendingFork(owner);
            _pending[token] = pending;
        }

        try
        {
            await pending.Owner.SendAsync($"{{\"fork\":\"{token}\",\"env\":{_envJson}}}\n", cancellationToken).ConfigureAwait(false);
            var forked = await pending.Done.Task.WaitAsync(_settings.StartTimeout, _settings.Time, cancellationToken).ConfigureAwait(false);
            if (forked is null)
            {
                PythonLog.ForkFailed(_logger, _settings.PoolName, pending.Failure ?? "it failed");
            }

            return forked;
        }
        catch (TimeoutException)
        {
            // A template that forks nothing in a start's whole timeout is hung (stopped, or stuck in a fork):
            // restarted, and this worker spawned.
            PythonLog.ForkServerHung(_logger, _settings.PoolName, pending.Owner.Process.Id, _settings.StartTimeout);
            pending.Owner.Kill();
            return null;
        }
        catch (IOException e)
        {
            // The template's control pipe is closed: it died; its death is handled by its read loop.
            PythonLog.ForkFailed(_logger, _settings.PoolName, e.Message);
            return null;
        }
        catch (OperationCanceledException)
        {
            if (pending.Done.Task is { IsCompletedSuccessfully: true, Result: { } late })
            {
                // Forked just as the start was cancelled: nobody will use it.
                late.Kill();
                late.Dispose();
            }

            throw;
        }
        finally
        {
            Abandon(token, pending);
        }
    }

    public async ValueTask DisposeAsync()
    {
        Template? template;
        lock (_gate)
        {
            if (_disposed)
            {
                return;
            }

            _disposed = true;
            template = _template;
            _template = null;
        }

        await _stopping.CancelAsync().ConfigureAwait(false);
        _listener.Dispose();
        foreach (var stopping in TakeRetired().Append(template))
        {
            // Its read loop sees it exit, kills it if it does not within a bound, and disposes it.
            stopping?.CloseInput();
            await (stopping?.ReadLoop ?? Task.CompletedTask).ConfigureAwait(false);
        }

        try
        {
            _directory.Delete(recursive: true);
        }
        catch (IOException)
        {
            // Removed already.
        }

        _stopping.Dispose();
    }

    /// <summary>The environment a worker gets, as a JSON object: the host's, filtered and overridden as for a spawn.</summary>
    private static string EnvironmentJson(PythonWorkerSettings settings)
    {
        var info = PythonWorker.CreateStartInfo(settings, []);
        using var buffer = new MemoryStream();
        using (var json = new Utf8JsonWriter(buffer))
        {
            json.WriteStartObject();
            foreach (var (key, value) in info.Environment)
            {
                if (value is not null)
                {
                    json.WriteString(key, value);
                }
            }

            json.WriteEndObject();
        }

        return Encoding.UTF8.GetString(buffer.ToArray());
    }

    /// <summary>Removes a request that is over; a child it forked that never became a worker is killed.</summary>
    private void Abandon(string token, PendingFork pending)
    {
        Socket? protocol, error;
        int pid;
        bool kill;
        lock (_gate)
        {
            _pending.Remove(token);
            if (pending.Finished)
            {
                return;
            }

            pending.Finished = true;
            (protocol, error, pid) = (pending.Protocol, pending.Error, pending.Pid);
            // Still the template's unreaped child (no exit reported): its pid is still its own.
            kill = pid > 0 && pending.Owner.Children.Remove(pid);
        }

        protocol?.Dispose();
        error?.Dispose();
        if (kill)
        {
            NativeMethods.TrySignal(pid, NativeMethods.SIGKILL);
        }

        pending.Done.TrySetResult(null);
    }

    /// <summary>Completes a request once its pid and both connections are there, from the same process.</summary>
    private void TryComplete(PendingFork pending)
    {
        lock (_gate)
        {
            if (pending.Finished || pending.Pid == 0 || pending.Protocol is null || pending.Error is null)
            {
                return;
            }

            pending.Finished = true;
        }

        if (pending.ProtocolPeer != pending.Pid || pending.ErrorPeer != pending.Pid)
        {
            pending.Protocol.Dispose();
            pending.Error.Dispose();
            pending.Failure = $"its connections came from pids {pending.ProtocolPeer} and {pending.ErrorPeer}, not from the forked {pending.Pid}";
            NativeMethods.TrySignal(pending.Pid, NativeMethods.SIGKILL);
            pending.Done.TrySetResult(null);
            return;
        }

        var worker = ForkedWorkerProcess.Open(pending.Pid, pending.Protocol, pending.Error);
        if (worker is null)
        {
            pending.Failure = $"the forked {pending.Pid} was gone before it could be watched";
            pending.Done.TrySetResult(null);
            return;
        }

        int? exited;
        bool templateDead;
        lock (_gate)
        {
            exited = pending.ExitCode;
            if (exited is null)
            {
                pending.Owner.Children[pending.Pid] = worker;
            }

            templateDead = pending.Owner.Dead;
        }

        if (exited is { } code)
        {
            worker.ReportExit(code);
        }
        else if (templateDead)
        {
            worker.TemplateDied();
        }

        pending.Done.TrySetResult(worker);
    }

    /// <summary>One fork request, from the token's issue until its worker is watched or it is abandoned. Fields under <c>_gate</c>.</summary>
    private sealed class PendingFork(Template owner)
    {
        public Template Owner { get; } = owner;

        public TaskCompletionSource<ForkedWorkerProcess?> Done { get; } = new(TaskCreationOptions.RunContinuationsAsynchronously);

        public bool Finished { get; set; }

        public int Pid { get; set; }

        public Socket? Protocol { get; set; }

        public int ProtocolPeer { get; set; }

        public Socket? Error { get; set; }

        public int ErrorPeer { get; set; }

        public int? ExitCode { get; set; }

        public string? Failure { get; set; }
    }
}
