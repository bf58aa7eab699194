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
    internal static async Task<PythonWorker> StartAsync(PythonWorkerSettings settings, WorkerContext? context, CancellationToken cancellationToken)
    {
        if (!PythonTracing.Source.HasListeners())
        {
            return await StartCoreAsync(settings, context, cancellationToken).ConfigureAwait(false);
        }

        using var activity = PythonTracing.Source.StartActivity(PythonTracing.WorkerStartSpan);
        activity?.SetTag(LifeguardTracing.PoolNameTag, settings.PoolName);
        try
        {
            var worker = await StartCoreAsync(settings, context, cancellationToken).ConfigureAwait(false);
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

    private static async Task<PythonWorker> StartCoreAsync(PythonWorkerSettings settings, WorkerContext? context, CancellationToken cancellationToken)
    {
        var info = new ProcessStartInfo(settings.Interpreter)
        {
            RedirectStandardInput = true,
            RedirectStandardOutput = true,
            RedirectStandardError = true,
            UseShellExecute = false,
            WorkingDirectory = settings.WorkingDirectory ?? "",
        };

        // argv only, never a shell.
        info.ArgumentList.Add(settings.EntryScript);
        info.ArgumentList.Add(Environment.ProcessId.ToString(CultureInfo.InvariantCulture));
        info.ArgumentList.Add(settings.MaxFrameSize.ToString(CultureInfo.InvariantCulture));
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
            if (value is null)
            {
                info.Environment.Remove(key);
            }
            else
            {
                info.Environment[key] = value;
            }
        }

        Process process;
        try
        {
            process = await ProcessLauncher.StartAsync(info).ConfigureAwait(false);
        }
        catch (Exception e) when (e is Win32Exception or FileNotFoundException or DirectoryNotFoundException)
        {
            throw PythonErrors.InterpreterNotStarted(settings.PoolName, settings.Interpreter, e);
        }

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

    private async Task HandshakeAsync(CancellationToken cancellationToken)
    {
        using var timeout = new CancellationTokenSource(_settings.StartTimeout, _settings.Time);
        using var linked = CancellationTokenSource.CreateLinkedTokenSource(cancellationToken, timeout.Token);
        try
        {
            WriteInit(_writer.Begin());
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
        if (shared && protocol >= 2 && AsksForSharedMemory)
        {
            _arena = new SharedMemoryArena(_settings.SharedMemoryThreshold, _settings.MaxFrameSize);
        }
    }

    /// <summary>Whether this host offers shared memory: a threshold is set, and this system has sealed memfds.</summary>
    private bool AsksForSharedMemory => _settings.SharedMemoryThreshold > 0 && SharedMemoryArena.IsSupported;

    private void WriteInit(Utf8JsonWriter json)
    {
        json.WriteStartObject();
        json.WriteNumber("protocol", ProtocolVersion);

        // The kinds this host reads beyond version 1's: a worker sends a spans frame only when the host names "spans",
        // and serves streams only when it names "streams".
        json.WriteStartArray("features");
        json.WriteStringValue("spans");
        json.WriteStringValue("streams");
        if (AsksForSharedMemory)
        {
            // Large bytes through segments the host creates (docs/protocol.md, "Shared memory"), from this size up.
            json.WriteStringValue("shm");
            json.WriteEndArray();
            json.WriteNumber("shmThreshold", _settings.SharedMemoryThreshold);
        }
        else
        {
            json.WriteEndArray();
        }

        json.WriteNumber("maxFrame", _settings.MaxFrameSize);
        json.WriteBoolean("namedFloats", _settings.NamedFloats);
        json.WriteStartArray("paths");
        foreach (var path in _settings.ModulePaths)
        {
            json.WriteStringValue(path);
        }

        json.WriteEndArray();
        if (_settings.AppendedModulePaths.Count > 0)
        {
            json.WriteStartArray("appendPaths");
            foreach (var path in _settings.AppendedModulePaths)
            {
                json.WriteStringValue(path);
            }

            json.WriteEndArray();
        }

        if (_settings.ModuleFiles.Count > 0)
        {
            // [[name, path], ...]: a list, so the order of loading is the order added.
            json.WriteStartArray("files");
            foreach (var (name, path) in _settings.ModuleFiles)
            {
                json.WriteStartArray();
                json.WriteStringValue(name);
                json.WriteStringValue(path);
                json.WriteEndArray();
            }

            json.WriteEndArray();
        }

        json.WriteStartArray("preload");
        foreach (var module in _settings.Preload)
        {
            json.WriteStringValue(module);
        }

        json.WriteEndArray();
        if (_settings.InitFunction is { } init)
        {
            json.WriteString("init", init);
        }

        if (_settings.AllowedModules is { } allowed)
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
