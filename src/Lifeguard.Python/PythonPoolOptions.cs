using System.Text.Json;

namespace Lifeguard.Python;

/// <summary>
/// Settings of a pool of Python workers: every pool setting of <see cref="PoolOptions"/> (Size defaults to the
/// number of processors here), plus how each <c>python3</c> process is started and called.
/// </summary>
public sealed class PythonPoolOptions : PoolOptions
{
    /// <summary>
    /// Creates options with <see cref="PoolOptions.Size"/> set to <see cref="Environment.ProcessorCount"/> and
    /// <see cref="PoolOptions.OverflowIdleTimeout"/> to 30 s: a Python start costs tens of milliseconds to seconds, so an
    /// overflow worker is kept warm for the next burst rather than dismissed the moment nobody waits.
    /// </summary>
    public PythonPoolOptions()
    {
        Size = System.Environment.ProcessorCount;
        OverflowIdleTimeout = TimeSpan.FromSeconds(30);
    }

    /// <summary>
    /// The interpreter. Default <see langword="null"/>: the <c>LIFEGUARD_PYTHON</c> environment variable, else
    /// <c>python3</c> on PATH. Resolved once to the real binary (<c>sys.executable</c>), so shims cost nothing per start.
    /// Not with <see cref="VirtualEnvironment"/>, which brings its own.
    /// </summary>
    public string? PythonPath { get; set; }

    /// <summary>
    /// A virtual environment's folder (made by <c>python3 -m venv</c>, <c>uv venv</c>, or virtualenv): the workers run
    /// its interpreter (<c>bin/python3</c>, else <c>bin/python</c>; <c>Scripts\python.exe</c> on Windows), and so import
    /// its packages, in an environment activated as its <c>activate</c> script would: <c>VIRTUAL_ENV</c> names the
    /// folder, its <c>bin</c> goes at the front of <c>PATH</c>, <c>PYTHONHOME</c> is removed. The activation is applied
    /// last, after <see cref="EnvironmentAllowlist"/> and <see cref="Environment"/>. Default <see langword="null"/>:
    /// the interpreter is <see cref="PythonPath"/>'s; setting both is an error. A relative path is resolved against
    /// the current directory (in a host, the content root). A folder that does not exist, or holds no interpreter,
    /// fails the pool's start with a <see cref="PythonStartException"/> naming it.
    /// </summary>
    public string? VirtualEnvironment { get; set; }

    /// <summary>
    /// Folders put at the front of <c>sys.path</c>, in order; relative ones are resolved against the current directory.
    /// A module in them shadows an installed or standard one of the same name (a <c>json.py</c> there is what
    /// <c>import json</c> finds); see <see cref="AppendedModulePaths"/> for folders that shadow nothing.
    /// </summary>
    public IList<string> ModulePaths { get; } = [];

    /// <summary>
    /// Folders put at the end of <c>sys.path</c>, in order, after the standard library and site-packages; relative
    /// ones are resolved against the current directory. A module in them is found only when nothing earlier on the
    /// path has its name, so a <c>json.py</c> there never shadows the standard <c>json</c>. Suits the folder of a
    /// <see cref="ModuleFiles"/> entry, so that the file's imports of its neighbours resolve.
    /// </summary>
    public IList<string> AppendedModulePaths { get; } = [];

    /// <summary>
    /// Modules loaded from a file when each worker starts, as module name → file path, in the order added: the file is
    /// imported under that name whatever it is called (<c>json.py</c>, <c>my.mod.py</c>), without its folder going on
    /// <c>sys.path</c>, and is then called by that name like any other module. It is registered in
    /// <c>sys.modules</c> before it runs, as the import system does, so dataclasses and pickling find it. Loaded after
    /// the paths are set and before <see cref="Preload"/>; an error (syntax, import, a missing file) fails the start
    /// with Python's own message (<see cref="PythonStartException.PythonType"/>). A name is a Python identifier
    /// without dots, and must not be a module already imported when the worker starts (<c>json</c>, <c>os</c>, ...),
    /// which the worker refuses; a relative path is resolved against the current directory. With
    /// <see cref="AllowedModules"/> set, the name must also be allowed to be called.
    /// </summary>
    /// <example><c>options.ModuleFiles["scoring_main"] = "/srv/app/score.py";</c> then <c>CallAsync("scoring_main", "score", ...)</c>.</example>
    public IDictionary<string, string> ModuleFiles { get; } = new OrderedDictionary<string, string>(StringComparer.Ordinal);

    /// <summary>
    /// How workers are started. Default <see cref="PythonStartMode.Spawn"/>: each worker is a fresh interpreter.
    /// <see cref="PythonStartMode.ForkServer"/> forks each worker from one template process that has imported the
    /// <see cref="Preload"/> modules once, so a start or a crash replacement costs milliseconds instead of the
    /// interpreter's start and the imports; see docs/python.md, "Start modes", for the measured difference and why
    /// Spawn stays the default.
    /// </summary>
    public PythonStartMode StartMode { get; set; } = PythonStartMode.Spawn;

    /// <summary>Modules imported when each worker starts; an import error fails the start with Python's own message.</summary>
    public IList<string> Preload { get; } = [];

    /// <summary>A <c>"module:function"</c> run once per worker process after <see cref="Preload"/>, e.g. to load a model.</summary>
    public string? InitFunction { get; set; }

    /// <summary>The workers' working directory. Default <see langword="null"/>: the host's.</summary>
    public string? WorkingDirectory { get; set; }

    /// <summary>
    /// When set, workers get only these variables of the host's environment (plus <see cref="Environment"/>).
    /// Default <see langword="null"/>: workers inherit the whole environment.
    /// </summary>
    public ISet<string>? EnvironmentAllowlist { get; set; }

    /// <summary>
    /// Variables set (or, with a <see langword="null"/> value, removed) in every worker's environment. In a value,
    /// <c>{worker}</c> is the worker's slot (<see cref="WorkerContext.Slot"/>, from 0 up to
    /// <see cref="PoolOptions.Size"/> + <see cref="PoolOptions.MaxOverflow"/> − 1, kept by a worker's replacement), so
    /// <c>CUDA_VISIBLE_DEVICES={worker}</c> gives each slot its own GPU; <c>{{worker}}</c> is the literal text
    /// <c>{worker}</c>. The fork server's template (<see cref="PythonStartMode.ForkServer"/>), which is no worker, gets
    /// a variable that names the slot unset.
    /// </summary>
    public IDictionary<string, string?> Environment { get; } = new Dictionary<string, string?>(StringComparer.Ordinal);

    /// <summary>How long a worker may take to start and complete its handshake. Default 30 s; positive.</summary>
    public TimeSpan StartTimeout { get; set; } = TimeSpan.FromSeconds(30);

    /// <summary>
    /// The default timeout of one call. Past it the call is interrupted (KeyboardInterrupt inside it) and the caller
    /// gets <see cref="PythonCallTimeoutException"/>. Default 100 s; positive or infinite.
    /// </summary>
    public TimeSpan CallTimeout { get; set; } = TimeSpan.FromSeconds(100);

    /// <summary>
    /// How long an interrupted call may take to stop; a worker that does not confirm in time is killed and replaced.
    /// Default 2 s; positive.
    /// </summary>
    public TimeSpan CancelGracePeriod { get; set; } = TimeSpan.FromSeconds(2);

    /// <summary>The largest frame either side may send, in bytes. Default 64 MiB; from 4 KiB to 1 GiB.</summary>
    public int MaxFrameSize { get; set; } = 64 * 1024 * 1024;

    /// <summary>
    /// The size from which a <c>byte[]</c> or <c>ReadOnlyMemory&lt;byte&gt;</c> argument, and a Python <c>bytes</c>,
    /// <c>bytearray</c> or <c>memoryview</c> result, travels through shared memory instead of the pipe (Linux; a
    /// sealed <c>memfd</c> segment the host creates and reuses per worker: docs/python.md, "Large bytes"). A call's
    /// frame and its shared bytes together stay within <see cref="MaxFrameSize"/>. Default 1 MiB; 0 turns shared
    /// memory off; otherwise from 4 KiB to 1 GiB.
    /// </summary>
    public int SharedMemoryThreshold { get; set; } = 1024 * 1024;

    /// <summary>
    /// How arguments and results are (de)serialised. Default <see langword="null"/>: Python's naming and strict
    /// binding — members as snake_case keys (<see cref="JsonNamingPolicy.SnakeCaseLower"/>, matched exactly) both
    /// ways, dictionary keys and keyword argument names as given, and a result missing a constructor parameter or a
    /// <c>required</c> member, or carrying null for a non-nullable one, a <see cref="PythonSerializationException"/>
    /// (<see cref="JsonSerializerOptions.RespectRequiredConstructorParameters"/>,
    /// <see cref="JsonSerializerOptions.RespectNullableAnnotations"/>). Options set here are taken as given, in place
    /// of all of that: <c>new JsonSerializerOptions(JsonSerializerDefaults.Web)</c> gives camelCase and
    /// System.Text.Json's lenient binding unless those two are set on it too.
    /// </summary>
    public JsonSerializerOptions? JsonSerializerOptions { get; set; }

    /// <summary>
    /// Let NaN and infinities cross the wire as the strings <c>"NaN"</c>, <c>"Infinity"</c> and <c>"-Infinity"</c>
    /// (System.Text.Json's named literals). Default <see langword="false"/>: the wire is strict JSON and such a value
    /// fails its call with an error naming it.
    /// </summary>
    public bool AllowNamedFloatingPointLiterals { get; set; }

    /// <summary>
    /// When set, only these modules can be called, and only their public functions (names not starting with
    /// <c>_</c>); checked by the host before sending and by the worker before importing. Default <see langword="null"/>:
    /// any function of any module on the path, so a caller who chooses the names can run any code.
    /// </summary>
    public ISet<string>? AllowedModules { get; set; }

    /// <summary>
    /// Extra attempts, on another worker, for a call whose worker crashed or timed out — never for one whose Python
    /// code raised. Only for idempotent functions. Default 0; at least 0.
    /// </summary>
    public int MaxRetries { get; set; }

    /// <summary>
    /// How many items a streaming call's generator may run ahead of its consumer
    /// (<see cref="IPythonCaller.StreamAsync{T}(string, string, IReadOnlyList{object?}?, IReadOnlyDictionary{string, object?}?, PythonCallOptions?, CancellationToken)"/>):
    /// the worker sends at most this many items the consumer has not taken, then waits for credit, so a slow consumer
    /// never makes memory grow. Default 16; from 1 to 65536.
    /// </summary>
    public int StreamWindow { get; set; } = 16;

    /// <summary>
    /// Retire a worker at checkin when its resident memory exceeds this many bytes: its RSS, or for a forked worker
    /// (<see cref="PythonStartMode.ForkServer"/>) its PSS, since its RSS counts the pages it shares copy-on-write with
    /// its template. Default <see langword="null"/>: no ceiling.
    /// </summary>
    public long? MaxWorkerMemory { get; set; }

    /// <summary>Host functions Python code may call by name with <c>lifeguard.call_host</c>.</summary>
    public IDictionary<string, HostCallback> Callbacks { get; } = new Dictionary<string, HostCallback>(StringComparer.Ordinal);

    /// <summary>
    /// Receives every line a worker writes to its standard output or standard error (<c>print</c>, writes to
    /// descriptors 1 and 2, a subprocess's or a C extension's output), with the worker's process id, in addition to the
    /// log entry each line gets (event 2200, Information, category <c>Lifeguard.Python.Worker</c>). Default
    /// <see langword="null"/>: lines are only logged.
    /// <para>
    /// Called on the thread that drains that worker's output: one worker's lines arrive in order and never
    /// concurrently, while different workers' lines may arrive concurrently, so the handler must be thread-safe. It
    /// should be quick: until it returns, that worker's output is not read, and a worker whose output pipe fills
    /// (64 KiB on Linux) blocks in its next write. Lines are cut at 8 KiB, as for the log; a trailing carriage return
    /// is removed; invalid UTF-8 is replaced. An exception from the handler is caught and logged (event 2201, Warning,
    /// once per worker), and the line still reaches the log and the crash-report tail; the handler keeps being called.
    /// </para>
    /// </summary>
    public Action<PythonOutputLine>? OnOutput { get; set; }

    /// <summary>How many of a worker's last output lines a crash report carries. Default 40; from 1 to 10,000.</summary>
    public int StderrTailLines { get; set; } = 40;

    /// <summary>Include call arguments in error messages (they may hold personal data). Default <see langword="false"/>.</summary>
    public bool IncludeArgumentsInErrors { get; set; }

    /// <summary>
    /// The script the interpreter runs instead of the bundled runtime's entry script. Internal: it lets the reliability
    /// suites start deliberately hostile workers through the real start path.
    /// </summary>
    internal string? EntryScript { get; set; }

    /// <summary>The clock of the fork server's restart delays. Internal: tests step it; default the pool's <see cref="PoolOptions.TimeProvider"/>.</summary>
    internal TimeProvider? ForkServerRestartTime { get; set; }

    /// <inheritdoc />
    protected override void Validate(ICollection<string> errors)
    {
        base.Validate(errors);
        Positive(errors, nameof(StartTimeout), StartTimeout);
        if (CallTimeout != Timeout.InfiniteTimeSpan)
        {
            Positive(errors, nameof(CallTimeout), CallTimeout);
        }

        Positive(errors, nameof(CancelGracePeriod), CancelGracePeriod);
        if (MaxFrameSize is < 4096 or > 1024 * 1024 * 1024)
        {
            errors.Add($"MaxFrameSize must be from 4096 to 1073741824 bytes (was {MaxFrameSize}).");
        }

        if (SharedMemoryThreshold is not 0 and (< 4096 or > 1024 * 1024 * 1024))
        {
            errors.Add($"SharedMemoryThreshold must be 0 (off) or from 4096 to 1073741824 bytes (was {SharedMemoryThreshold}).");
        }

        if (MaxRetries < 0)
        {
            errors.Add($"MaxRetries must be at least 0 (was {MaxRetries}).");
        }

        if (StreamWindow is < 1 or > PythonCallOptions.MaxStreamWindow)
        {
            errors.Add($"StreamWindow must be from 1 to {PythonCallOptions.MaxStreamWindow} (was {StreamWindow}).");
        }

        if (!Enum.IsDefined(StartMode))
        {
            errors.Add($"StartMode must be Spawn or ForkServer (was {(int)StartMode}).");
        }

        if (MaxWorkerMemory is <= 0)
        {
            errors.Add($"MaxWorkerMemory must be positive or null (was {MaxWorkerMemory}).");
        }

        if (StderrTailLines is < 1 or > 10_000)
        {
            errors.Add($"StderrTailLines must be from 1 to 10000 (was {StderrTailLines}).");
        }

        if (InitFunction is { } init && (init.Split(':') is not [{ Length: > 0 }, { Length: > 0 }]))
        {
            errors.Add($"InitFunction must look like \"module:function\" (was \"{init}\").");
        }

        if (PythonPath is { Length: 0 })
        {
            errors.Add("PythonPath must be null or a path, not empty.");
        }

        if (VirtualEnvironment is { Length: 0 })
        {
            errors.Add("VirtualEnvironment must be null or a folder, not empty.");
        }

        if (VirtualEnvironment is { Length: > 0 } && PythonPath is { Length: > 0 })
        {
            errors.Add($"VirtualEnvironment and PythonPath are both set (\"{VirtualEnvironment}\", \"{PythonPath}\"): a virtual environment brings its own interpreter. Set one of them.");
        }

        foreach (var path in ModulePaths.Concat(AppendedModulePaths))
        {
            if (string.IsNullOrEmpty(path))
            {
                errors.Add("ModulePaths and AppendedModulePaths must hold folders, not null or empty entries.");
                break;
            }
        }

        foreach (var (name, path) in ModuleFiles)
        {
            if (!PythonNames.IsIdentifier(name))
            {
                errors.Add($"ModuleFiles: \"{name}\" is not a Python module name (an identifier without dots, e.g. \"score_main\").");
            }

            if (string.IsNullOrEmpty(path))
            {
                errors.Add($"ModuleFiles: the path of \"{name}\" must be a file, not null or empty.");
            }
        }
    }

    private static void Positive(ICollection<string> errors, string name, TimeSpan value)
    {
        if (value <= TimeSpan.Zero)
        {
            errors.Add($"{name} must be positive (was {value}).");
        }
    }
}
