using System.ComponentModel;
using System.Diagnostics;
using System.Globalization;
using System.Text.Json;

namespace Lifeguard.Python;

/// <summary>Starting a worker: the process (from the launcher thread), the init frame, and the handshake.</summary>
public sealed partial class PythonWorker
{
    private const int ProtocolVersion = 2;

    /// <summary>The oldest protocol this host still serves: a version 1 worker announces no features, so it is sent none.</summary>
    private const int OldestProtocolVersion = 1;

    /// <summary>Starts a worker, inside a <c>lifeguard.worker.start</c> span when the <c>Lifeguard</c> source has a listener.</summary>
    internal static async Task<PythonWorker> StartAsync(PythonWorkerSettings settings, WorkerContext? context, CancellationToken cancellationToken, ForkServer? forkServer = null)
    {
        if (!PythonTracing.Source.HasListeners())
        {
            return await StartCoreAsync(settings, forkServer, context, cancellationToken).ConfigureAwait(false);
        }

        using var activity = PythonTracing.Source.StartActivity(PythonTracing.WorkerStartSpan);
        activity?.SetTag(LifeguardTracing.PoolNameTag, settings.PoolName);
        try
        {
            var worker = await StartCoreAsync(settings, forkServer, context, cancellationToken).ConfigureAwait(false);
            activity?.SetTag(PythonTracing.ProcessPidTag, worker.ProcessId);
            activity?.SetTag(PythonTracing.RuntimeVersionTag, worker.PythonVersion);
            return worker;
        }
        catch (Exception e) when (activity is not null)
        {
            LifeguardTracing.SetError(activity, e);
            throw;
        }
    }

    private static async Task<PythonWorker> StartCoreAsync(PythonWorkerSettings settings, ForkServer? forkServer, WorkerContext? context, CancellationToken cancellationToken)
    {
        // Forked by the pool's template when it has one that is up; spawned otherwise (docs/python.md, "Start modes").
        int slot = context?.Slot ?? 0;
        var process = (forkServer is null ? null : await forkServer.TryForkAsync(slot, cancellationToken).ConfigureAwait(false))
            ?? await SpawnAsync(settings, slot).ConfigureAwait(false);
        var worker = new PythonWorker(settings, process, context);
        try
        {
            await worker.HandshakeAsync(cancellationToken).ConfigureAwait(false);
            return worker;
        }
        catch
        {
            // Its failure is this start's exception, not a death to report: claim the report, then stop it.
            _ = worker.TryClaimEnd();
            worker.Kill();
            await worker.DisposeAsync().ConfigureAwait(false);
            throw;
        }
    }

    /// <summary>Starts the worker as a fresh interpreter process, from the launcher thread.</summary>
    private static async Task<WorkerProcess> SpawnAsync(PythonWorkerSettings settings, int slot)
    {
        var info = CreateStartInfo(settings, [settings.EntryScript, Environment.ProcessId.ToString(CultureInfo.InvariantCulture), settings.MaxFrameSize.ToString(CultureInfo.InvariantCulture)], slot);
        try
        {
            return new SpawnedWorkerProcess(await ProcessLauncher.StartAsync(info).ConfigureAwait(false));
        }
        catch (Exception e) when (e is Win32Exception or FileNotFoundException or DirectoryNotFoundException)
        {
            throw PythonErrors.InterpreterNotStarted(settings.PoolName, settings.Interpreter, e);
        }
    }

    /// <summary>
    /// The interpreter with <paramref name="arguments"/> (argv only, never a shell), on pipes, in the environment of
    /// the worker in <paramref name="slot"/>: the host's, filtered by the allowlist, with the pool's variables
    /// (<c>{worker}</c> expanded), then activated in the virtual environment. With no slot (the fork server's
    /// template), variables that name the slot are unset.
    /// </summary>
    internal static ProcessStartInfo CreateStartInfo(PythonWorkerSettings settings, IEnumerable<string> arguments, int? slot)
    {
        var info = new ProcessStartInfo(settings.Interpreter)
        {
            RedirectStandardInput = true,
            RedirectStandardOutput = true,
            RedirectStandardError = true,
            UseShellExecute = false,
            WorkingDirectory = settings.WorkingDirectory ?? "",
        };

        foreach (var argument in arguments)
        {
            info.ArgumentList.Add(argument);
        }

        if (settings.EnvironmentAllowlist is { } allowed)
        {
            foreach (var key in info.Environment.Keys.ToList())
            {
                if (!allowed.Contains(key))
                {
                    info.Environment.Remove(key);
                }
            }
        }

        foreach (var (key, value) in settings.Environment)
        {
            if (value is not null && WorkerEnvironment.Expand(value, slot) is { } expanded)
            {
                info.Environment[key] = expanded;
            }
            else
            {
                info.Environment.Remove(key);
            }
        }

        if (settings.VirtualEnvironment is { } venv)
        {
            VenvActivation.Activate(info.Environment, venv);
        }

        return info;
    }

    private async Task HandshakeAsync(CancellationToken cancellationToken)
    {
        using var timeout = new CancellationTokenSource(_settings.StartTimeout, _settings.Time);
        using var linked = CancellationTokenSource.CreateLinkedTokenSource(cancellationToken, timeout.Token);
        try
        {
            WriteInit(_writer.Begin(), _settings);
            await _writer.SendAsync(FrameKind.Init, 0, linked.Token).ConfigureAwait(false);
            var frame = await _reader.ReadAsync(linked.Token).ConfigureAwait(false);
            switch (frame)
            {
                case { Kind: FrameKind.Hello } hello:
                    ReadHello(hello);
                    PythonLog.WorkerReady(_logger, ProcessId, PythonVersion, RuntimeVersion, _settings.Interpreter);
                    return;
                case { Kind: FrameKind.Error } error:
                    throw PythonErrors.StartFailed(_settings.PoolName, ProcessId, PythonCallCodec.ReadError(error));
                case null:
                    await WaitForExitAsync().ConfigureAwait(false);
                    throw PythonErrors.ExitedBeforeHandshake(_settings.PoolName, ProcessId, SafeExitCode(), _output.Tail());
                default:
                    throw new PythonProtocolException($"it sent a {frame.Value.Kind} frame before its hello.");
            }
        }
        catch (PythonProtocolException e)
        {
            throw PythonErrors.HandshakeViolation(_settings.PoolName, ProcessId, e);
        }
        catch (OperationCanceledException) when (timeout.IsCancellationRequested && !cancellationToken.IsCancellationRequested)
        {
            throw PythonErrors.HandshakeTimedOut(_settings.PoolName, ProcessId, _settings.StartTimeout, _output.Tail());
        }
        catch (IOException e)
        {
            await WaitForExitAsync().ConfigureAwait(false);
            throw PythonErrors.ExitedBeforeHandshake(_settings.PoolName, ProcessId, SafeExitCode(), _output.Tail(), e);
        }
    }

    /// <summary>Checks the hello (docs/protocol.md) and keeps the versions it names.</summary>
    /// <exception cref="PythonProtocolException">The hello is not the expected JSON object.</exception>
    /// <exception cref="PythonStartException">The worker speaks another protocol version.</exception>
    private void ReadHello(Frame hello)
    {
        int protocol;
        bool spans = false;
        bool streams = false;
        bool shared = false;
        bool pings = false;
        try
        {
            using var document = JsonDocument.Parse(hello.Json);
            var root = document.RootElement;
            protocol = root.GetProperty("protocol").GetInt32();
            PythonVersion = root.GetProperty("python").GetString() ?? throw new InvalidOperationException("\"python\" is null.");
            RuntimeVersion = root.GetProperty("runtime").GetString() ?? throw new InvalidOperationException("\"runtime\" is null.");
            if (root.TryGetProperty("features"u8, out var features))
            {
                // An array of strings; names this host does not know are features it does not use.
                foreach (var feature in features.EnumerateArray())
                {
                    string name = feature.GetString() ?? throw new InvalidOperationException("a feature is null.");
                    spans |= name == "spans";
                    streams |= name == "streams";
                    shared |= name == "shm";
                    pings |= name == "ping";
                }
            }
        }
        catch (Exception e) when (e is JsonException or InvalidOperationException or KeyNotFoundException or FormatException)
        {
            throw new PythonProtocolException(
                $"it sent a hello that is not {{\"protocol\": 2, \"runtime\": string, \"python\": string, \"features\": [string, ...]?, ...}} ({e.Message})", e);
        }

        if (protocol is < OldestProtocolVersion or > ProtocolVersion)
        {
            throw PythonErrors.ProtocolMismatch(_settings.PoolName, ProcessId, protocol, ProtocolVersion, OldestProtocolVersion, RuntimeVersion);
        }

        CollectsSpans = spans && protocol >= 2;
        Streams = streams && protocol >= 2;
        AnswersPings = pings && protocol >= 2;
        if (shared && protocol >= 2 && AsksForSharedMemory(_settings))
        {
            _arena = new SharedMemoryArena(_settings.SharedMemoryThreshold, _settings.MaxFrameSize);
        }
    }

    /// <summary>The init frame's JSON object, for a fork server's template (which imports what it names).</summary>
    internal static string InitJson(PythonWorkerSettings settings)
    {
        using var buffer = new MemoryStream();
        using (var json = new Utf8JsonWriter(buffer))
        {
            WriteInit(json, settings);
        }

        return System.Text.Encoding.UTF8.GetString(buffer.ToArray());
    }

    /// <summary>Whether a host with these settings offers shared memory: a threshold is set, and this system has sealed memfds.</summary>
    private static bool AsksForSharedMemory(PythonWorkerSettings settings) => settings.SharedMemoryThreshold > 0 && SharedMemoryArena.IsSupported;

    private static void WriteInit(Utf8JsonWriter json, PythonWorkerSettings settings)
    {
        json.WriteStartObject();
        json.WriteNumber("protocol", ProtocolVersion);

        // The kinds this host reads beyond version 1's: a worker sends a spans frame only when the host names "spans",
        // serves streams only when it names "streams", and is pinged only when both name "ping".
        json.WriteStartArray("features");
        json.WriteStringValue("spans");
        json.WriteStringValue("streams");
        json.WriteStringValue("ping");
        if (AsksForSharedMemory(settings))
        {
            // Large bytes through segments the host creates (docs/protocol.md, "Shared memory"), from this size up.
            json.WriteStringValue("shm");
            json.WriteEndArray();
            json.WriteNumber("shmThreshold", settings.SharedMemoryThreshold);

            // The process whose descriptors hold the segments: this one, which a forked worker (the fork server's
            // child) cannot learn from its parent.
            json.WriteNumber("shmPid", Environment.ProcessId);
        }
        else
        {
            json.WriteEndArray();
        }

        json.WriteNumber("maxFrame", settings.MaxFrameSize);
        json.WriteBoolean("namedFloats", settings.NamedFloats);
        json.WriteStartArray("paths");
        foreach (var path in settings.ModulePaths)
        {
            json.WriteStringValue(path);
        }

        json.WriteEndArray();
        if (settings.AppendedModulePaths.Count > 0)
        {
            json.WriteStartArray("appendPaths");
            foreach (var path in settings.AppendedModulePaths)
            {
                json.WriteStringValue(path);
            }

            json.WriteEndArray();
        }

        if (settings.ModuleFiles.Count > 0)
        {
            // [[name, path], ...]: a list, so the order of loading is the order added.
            json.WriteStartArray("files");
            foreach (var (name, path) in settings.ModuleFiles)
            {
                json.WriteStartArray();
                json.WriteStringValue(name);
                json.WriteStringValue(path);
                json.WriteEndArray();
            }

            json.WriteEndArray();
        }

        json.WriteStartArray("preload");
        foreach (var module in settings.Preload)
        {
            json.WriteStringValue(module);
        }

        json.WriteEndArray();
        if (settings.InitFunction is { } init)
        {
            json.WriteString("init", init);
        }

        if (settings.AllowedModules is { } allowed)
        {
            json.WriteStartArray("allowModules");
            foreach (var module in allowed)
            {
                json.WriteStringValue(module);
            }

            json.WriteEndArray();
        }

        json.WriteEndObject();
    }

    /// <summary>Waits (bounded) for the process to exit and its output to drain, so a report can carry both.</summary>
    private async Task WaitForExitAsync()
    {
        await _exited.Task.WaitAsync(TimeSpan.FromSeconds(5), _settings.Time, CancellationToken.None).ConfigureAwait(ConfigureAwaitOptions.SuppressThrowing);
        if (!_exited.Task.IsCompleted)
        {
            Kill();
            await _exited.Task.WaitAsync(TimeSpan.FromSeconds(5), _settings.Time, CancellationToken.None).ConfigureAwait(ConfigureAwaitOptions.SuppressThrowing);
        }

        await _output.Completion.WaitAsync(TimeSpan.FromSeconds(1), _settings.Time, CancellationToken.None).ConfigureAwait(ConfigureAwaitOptions.SuppressThrowing);
    }
}
