using System.Collections.Frozen;
using System.Text.Json;
using Microsoft.Extensions.Logging;

namespace Lifeguard.Python;

/// <summary>An immutable snapshot of what starting and calling a worker needs, built once per pool. Thread-safe.</summary>
internal sealed class PythonWorkerSettings
{
    private PythonWorkerSettings()
    {
    }

    public required string PoolName { get; init; }

    public required string Interpreter { get; init; }

    public required string EntryScript { get; init; }

    public required IReadOnlyList<string> ModulePaths { get; init; }

    public required IReadOnlyList<string> AppendedModulePaths { get; init; }

    /// <summary>(module name, full path) in the order added.</summary>
    public required IReadOnlyList<KeyValuePair<string, string>> ModuleFiles { get; init; }

    public required IReadOnlyList<string> Preload { get; init; }

    public string? InitFunction { get; init; }

    public string? WorkingDirectory { get; init; }

    public FrozenSet<string>? EnvironmentAllowlist { get; init; }

    /// <summary>The variables set or removed in every worker's environment, their values before <see cref="WorkerEnvironment.Expand"/>.</summary>
    public required IReadOnlyDictionary<string, string?> Environment { get; init; }

    /// <summary>Whether a value of <see cref="Environment"/> names the worker's slot, so that workers' environments differ.</summary>
    public bool EnvironmentUsesSlot { get; init; }

    /// <summary>The virtual environment's full path, activated in every worker's environment; null for none.</summary>
    public string? VirtualEnvironment { get; init; }

    public TimeSpan StartTimeout { get; init; }

    public TimeSpan CallTimeout { get; init; }

    public TimeSpan CancelGracePeriod { get; init; }

    public int MaxFrameSize { get; init; }

    /// <summary>The size from which bytes travel through shared memory; 0 for never.</summary>
    public int SharedMemoryThreshold { get; init; }

    public required JsonSerializerOptions Json { get; init; }

    public bool NamedFloats { get; init; }

    public FrozenSet<string>? AllowedModules { get; init; }

    public required FrozenDictionary<string, HostCallback> Callbacks { get; init; }

    public int StderrTailLines { get; init; }

    public Action<PythonOutputLine>? OnOutput { get; init; }

    public bool IncludeArgumentsInErrors { get; init; }

    /// <summary>How far a stream's generator may run ahead of its consumer, unless a call says otherwise.</summary>
    public int StreamWindow { get; init; }

    public long? MaxWorkerMemory { get; init; }

    public required TimeProvider Time { get; init; }

    public required ILoggerFactory LoggerFactory { get; init; }

    public static async Task<PythonWorkerSettings> CreateAsync(PythonPoolOptions options)
    {
        var venv = options.VirtualEnvironment is { } folder ? Path.GetFullPath(folder) : null;
        var interpreter = await InterpreterResolver.ResolveAsync(
            venv is null ? InterpreterResolver.Requested(options.PythonPath) : VenvActivation.Interpreter(venv, options.Name)).ConfigureAwait(false);
        return new PythonWorkerSettings
        {
            PoolName = options.Name,
            Interpreter = interpreter,
            EntryScript = options.EntryScript is { } script ? Path.GetFullPath(script) : RuntimeDeployer.EntryScript,
            ModulePaths = [.. options.ModulePaths.Select(Path.GetFullPath)],
            AppendedModulePaths = [.. options.AppendedModulePaths.Select(Path.GetFullPath)],
            ModuleFiles = [.. options.ModuleFiles.Select(f => KeyValuePair.Create(f.Key, Path.GetFullPath(f.Value)))],
            Preload = [.. options.Preload],
            InitFunction = options.InitFunction,
            WorkingDirectory = options.WorkingDirectory is null ? null : Path.GetFullPath(options.WorkingDirectory),
            EnvironmentAllowlist = options.EnvironmentAllowlist?.ToFrozenSet(StringComparer.Ordinal),
            Environment = new Dictionary<string, string?>(options.Environment, StringComparer.Ordinal),
            EnvironmentUsesSlot = options.Environment.Values.Any(v => v is not null && WorkerEnvironment.UsesSlot(v)),
            VirtualEnvironment = venv,
            StartTimeout = options.StartTimeout,
            CallTimeout = options.CallTimeout,
            CancelGracePeriod = options.CancelGracePeriod,
            MaxFrameSize = options.MaxFrameSize,
            SharedMemoryThreshold = options.SharedMemoryThreshold,
            Json = PythonJson.CreateOptions(options.JsonSerializerOptions, options.AllowNamedFloatingPointLiterals),
            NamedFloats = options.AllowNamedFloatingPointLiterals,
            AllowedModules = options.AllowedModules?.ToFrozenSet(StringComparer.Ordinal),
            Callbacks = options.Callbacks.ToFrozenDictionary(StringComparer.Ordinal),
            StderrTailLines = options.StderrTailLines,
            OnOutput = options.OnOutput,
            IncludeArgumentsInErrors = options.IncludeArgumentsInErrors,
            StreamWindow = options.StreamWindow,
            MaxWorkerMemory = options.MaxWorkerMemory,
            Time = options.TimeProvider,
            LoggerFactory = options.LoggerFactory ?? Microsoft.Extensions.Logging.Abstractions.NullLoggerFactory.Instance,
        };
    }
}
