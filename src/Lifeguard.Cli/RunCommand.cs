using System.CommandLine;
using System.Globalization;
using Lifeguard.Python;
using Lifeguard.RabbitMQ;

namespace Lifeguard.Cli;

/// <summary>
/// <c>lifeguard run FILE.py:FUNCTION --input IN.jsonl</c>: calls the function once per non-blank input line in a pool of
/// Python workers and writes one JSON line per input, in input order; with <c>--pool NAME</c>, <c>MODULE:FUNCTION</c> on
/// the hosts of a remote pool instead. Stateless; each invocation owns its pool.
/// </summary>
internal static class RunCommand
{
    public static Command Create(TextWriter error)
    {
        var target = new Argument<string>("FILE.py:FUNCTION") { Description = "The Python file and the function in it to call; the file's folder goes at the end of the module path. With --pool: MODULE:FUNCTION, the module as its hosts serve it (lifeguard serve work.py serves work)." };
        var input = new Option<FileInfo>("--input") { Description = "A JSON Lines file: each non-blank line is one call's single argument.", Required = true };
        var outputFile = new Option<FileInfo?>("--output") { Description = "Where to write the results (JSON Lines, in input order). Default: standard output." };
        var size = new Option<int?>("--size") { Description = "Workers kept ready. Default: the number of processors." };
        var maxOverflow = new Option<int>("--max-overflow") { Description = "Extra workers for bursts. Default 0." };
        var timeout = new Option<TimeSpan?>("--timeout")
        {
            Description = $"Per attempt; a call past it is interrupted ({Durations.Accepted}). Default 100s.",
            CustomParser = r => LifeguardCommand.ParseDuration(r),
        };
        var retries = new Option<int>("--retries") { Description = "Extra attempts for an input whose worker crashed or timed out (never for one whose Python code raised). Default 0." };
        var python = new Option<string?>("--python") { Description = "The Python interpreter. Default: LIFEGUARD_PYTHON, else python3 on PATH." };
        var venv = new Option<string?>("--venv") { Description = "A virtual environment's folder (python3 -m venv, uv venv): its interpreter runs the workers, activated (VIRTUAL_ENV, its bin first on PATH). Not with --python." };
        var grace = new Option<TimeSpan?>("--grace")
        {
            Description = $"After SIGINT or SIGTERM, how long calls in flight may run on before they are cancelled ({Durations.Accepted}); a second signal cancels them at once. Default 5s.",
            CustomParser = r => LifeguardCommand.ParseDuration(r),
        };
        var resume = new Option<bool>("--resume") { Description = "Keep the entries already in --output (an interrupted or killed run's) and run only the inputs without one." };
        var maxFrameSize = new Option<long?>("--max-frame-size")
        {
            Description = $"The largest message to or from a worker ({Sizes.Accepted}); a longer input line is that input's InputTooLarge error. Default 64MiB.",
            CustomParser = r => ParseSize(r),
        };
        var quiet = new Option<bool>("--quiet") { Description = "Drop the function's own output (print, writes to fd 1 and 2) instead of showing it on stderr." };
        var dashboard = new DashboardArguments("while the run lasts");
        var pool = new Option<string?>("--pool") { Description = "Run on the hosts of this remote pool (lifeguard serve FILE.py --pool NAME) through RabbitMQ instead of local workers." };
        var broker = new Option<string?>("--broker") { Description = "With --pool: the broker's AMQP URI (amqp://user:password@host:5672/vhost, amqps:// for TLS). Default: LIFEGUARD_BROKER from the environment, so that the password need not be on the command line." };
        var stream = new Option<bool>("--stream") { Description = "With --pool: FUNCTION is a generator; each item gets its own entry, as for a local generator function (without it, its items come as one list)." };
        var inFlight = new Option<int?>("--in-flight") { Description = "With --pool: the most inputs sent and not answered at once. Default: the serving hosts' total capacity, re-read every 0.5 s." };
        var maxQueueLength = new Option<int?>("--max-queue-length") { Description = "With --pool: the pool's call queue length limit, the same on every caller and host of the pool. Default 10000." };
        var command = new Command(
            "run",
            "Call a Python function once per line of a JSON Lines file, in a supervised pool of Python workers.\n"
                + "Output: one JSON line per non-blank input line, in input order: {\"index\": i, \"line\": n, \"result\": ...} or\n"
                + "{\"index\": i, \"line\": n, \"error\": {\"type\": ..., \"message\": ...}}, where n is the input's line number.\n"
                + "Results are written as they complete and flushed at least every 100 ms. On SIGINT or SIGTERM the run reads no\n"
                + "more input, gives calls in flight --grace, writes what finished and exits with 130 or 143; --resume continues it.\n"
                + "The function's own output (print, writes to fd 1 and 2) goes to stderr as \"[pid N] text\" lines, at most\n"
                + "100 a second (the rest are counted); --quiet drops it.\n"
                + "Exit code 0 when every input succeeded, 1 when some failed, 2 when nothing was run: bad arguments, FILE does\n"
                + "not load, FUNCTION is not a callable in it.\n"
                + "--dashboard prints \"dashboard: URL\" on stderr and serves the pool's live page there until the run ends.\n"
                + "With --pool NAME, the inputs go to the hosts of the remote pool NAME on RabbitMQ (lifeguard serve FILE.py --pool\n"
                + "NAME), as MODULE:FUNCTION; output, order, --retries, --resume and exit codes are as for a local run. Exit code 2\n"
                + "also when no broker is named, it cannot be reached, no host is heard within 10 s, or the hosts refuse MODULE.\n\n"
                + "Examples:\n"
                + "  lifeguard run optimizer.py:optimize --input deliveries.jsonl > plans.jsonl\n"
                + "  lifeguard run model.py:score --input rows.jsonl --output scores.jsonl --size 4 --timeout 30s --retries 2\n"
                + "  lifeguard run model.py:score --input rows.jsonl --output scores.jsonl --resume\n"
                + "  lifeguard run model.py:score --input rows.jsonl --output scores.jsonl --dashboard\n"
                + "  LIFEGUARD_BROKER=amqp://app:secret@mq.internal/ lifeguard run model:score --pool scoring --input rows.jsonl --output scores.jsonl")
        {
            target, input, outputFile, size, maxOverflow, timeout, retries, python, venv, grace, resume, maxFrameSize, quiet,
            pool, broker, stream, inFlight, maxQueueLength,
        };
        dashboard.AddTo(command);

        command.SetAction(async (parse, cancellationToken) =>
        {
            var remote = parse.GetValue(pool) is { } poolName
                ? RemoteTarget(parse, poolName, broker, stream, inFlight, maxQueueLength, [size, maxOverflow, python, venv, quiet, .. dashboard.Options])
                : LocalOnly(parse, [broker, stream, inFlight, maxQueueLength]);
            var settings = new RunSettings(
                remote is null ? ParseTarget(parse.GetValue(target)!) : ParseModuleTarget(parse.GetValue(target)!),
                parse.GetValue(input)!,
                parse.GetValue(outputFile),
                parse.GetValue(size) ?? Environment.ProcessorCount,
                parse.GetValue(maxOverflow),
                parse.GetValue(timeout) ?? TimeSpan.FromSeconds(100),
                parse.GetValue(retries),
                parse.GetValue(python),
                parse.GetValue(grace) ?? TimeSpan.FromSeconds(5),
                parse.GetValue(resume),
                parse.GetValue(maxFrameSize),
                parse.GetValue(quiet),
                dashboard.Get(parse))
            {
                Remote = remote,
                Venv = parse.GetValue(venv),
            };
            settings.Validate();
            return await new RunJob(settings, error).RunAsync(cancellationToken).ConfigureAwait(false);
        });
        return command;
    }

    private static long? ParseSize(System.CommandLine.Parsing.ArgumentResult result)
    {
        var token = result.Tokens.Count > 0 ? result.Tokens[0].Value : null;
        if (Sizes.TryParse(token, out long value))
        {
            return value;
        }

        result.AddError($"--max-frame-size: '{token}' is not a size; use {Sizes.Accepted}.");
        return null;
    }

    /// <summary>What <c>--pool</c> asked for, refusing the options of a local pool, which mean nothing for a remote one.</summary>
    private static RemoteRun RemoteTarget(
        ParseResult parse, string poolName, Option<string?> broker, Option<bool> stream, Option<int?> inFlight, Option<int?> maxQueueLength, IReadOnlyList<Option> localOnly)
    {
        if (localOnly.FirstOrDefault(o => Given(parse, o)) is { } given)
        {
            throw new UsageException(given.Name switch
            {
                "--size" or "--max-overflow" => $"{given.Name} does not apply with --pool: the hosts' capacity is theirs (lifeguard serve --size, --max-overflow).",
                "--python" or "--venv" => $"{given.Name} does not apply with --pool: each host runs its own interpreter (lifeguard serve {given.Name}).",
                "--quiet" => "--quiet does not apply with --pool: the function's own output stays on its hosts.",
                _ => $"{given.Name} does not apply with --pool: there is no local pool to show; each host's pool is its own.",
            });
        }

        Uri? uri = null;
        if (parse.GetValue(broker) is { } text && !Uri.TryCreate(text, UriKind.Absolute, out uri))
        {
            throw new UsageException("--broker is not a URI: use amqp://user:password@host:port/vhost or amqps://....");
        }

        var slots = parse.GetValue(inFlight);
        var queue = parse.GetValue(maxQueueLength);
        if (slots is < 1 || queue is < 1)
        {
            throw new UsageException(string.Create(CultureInfo.InvariantCulture, $"--in-flight and --max-queue-length must be at least 1 (were {slots?.ToString(CultureInfo.InvariantCulture) ?? "unset"}, {queue?.ToString(CultureInfo.InvariantCulture) ?? "unset"})."));
        }

        return new RemoteRun(poolName, uri, parse.GetValue(stream), slots, queue);
    }

    /// <summary>Refuses the options that only a run with <c>--pool</c> has.</summary>
    private static RemoteRun? LocalOnly(ParseResult parse, IReadOnlyList<Option> remoteOnly)
    {
        if (remoteOnly.FirstOrDefault(o => Given(parse, o)) is { } given)
        {
            throw new UsageException(given.Name == "--stream"
                ? "--stream needs --pool: a local run finds out by itself whether FUNCTION is a generator function."
                : $"{given.Name} needs --pool: it is an option of a run on a remote pool's hosts.");
        }

        return null;
    }

    private static bool Given(ParseResult parse, Option option) => parse.GetResult(option) is { Implicit: false };

    /// <summary>MODULE:FUNCTION, as the hosts of a remote pool serve it: a module's name, not a file.</summary>
    private static (string File, string Module, string Function) ParseModuleTarget(string target)
    {
        int colon = target.LastIndexOf(':');
        var module = colon > 0 ? target[..colon] : "";
        if (module.EndsWith(".py", StringComparison.Ordinal) || module.Contains('/', StringComparison.Ordinal))
        {
            var stem = Path.GetFileNameWithoutExtension(module);
            throw new UsageException(
                $"with --pool, the target is MODULE:FUNCTION as the hosts serve it, not a file: 'lifeguard serve {Path.GetFileName(module)}' serves the module '{stem}', so use {stem}:{(colon > 0 ? target[(colon + 1)..] : "FUNCTION")}.");
        }

        if (colon <= 0 || colon == target.Length - 1 || !module.Split('.').All(ServeCommand.IsIdentifier))
        {
            throw new UsageException($"'{target}' is not MODULE:FUNCTION (with --pool, the module's name as its hosts serve it).");
        }

        return ("", module, target[(colon + 1)..]);
    }

    private static (string File, string Module, string Function) ParseTarget(string target)
    {
        int colon = target.LastIndexOf(':');
        if (colon <= 0 || colon == target.Length - 1)
        {
            throw new UsageException($"'{target}' is not FILE.py:FUNCTION.");
        }

        var file = Path.GetFullPath(target[..colon]);
        var function = target[(colon + 1)..];
        if (!file.EndsWith(".py", StringComparison.Ordinal))
        {
            throw new UsageException($"'{target[..colon]}' is not a .py file.");
        }

        if (!File.Exists(file))
        {
            throw new UsageException($"'{target[..colon]}' does not exist.");
        }

        return (file, RunTarget.ModuleName, function);
    }
}

/// <summary>What one <c>lifeguard run</c> was asked to do. Immutable.</summary>
internal sealed record RunSettings(
    (string File, string Module, string Function) Target,
    FileInfo Input,
    FileInfo? Output,
    int Size,
    int MaxOverflow,
    TimeSpan Timeout,
    int Retries,
    string? Python,
    TimeSpan Grace,
    bool Resume,
    long? MaxFrameSize,
    bool Quiet,
    DashboardRequest? Dashboard)
{
    /// <summary>The bounds of <see cref="PythonPoolOptions.MaxFrameSize"/>.</summary>
    private const long MinFrameSize = 4096;
    private const long MaxFrameSizeLimit = 1024 * 1024 * 1024;

    /// <summary>The bound of <see cref="RemotePythonPoolOptions.MaxFrameSize"/>: RabbitMQ's largest message.</summary>
    private const long MaxRemoteFrameSize = 128 * 1024 * 1024;

    /// <summary>With <c>--pool</c>: the remote pool to run on; else <see langword="null"/>, a local pool.</summary>
    public RemoteRun? Remote { get; init; }

    /// <summary><c>--venv</c>: the virtual environment whose interpreter runs the workers; else <see langword="null"/>.</summary>
    public string? Venv { get; init; }

    /// <summary>The frame size in force: <c>--max-frame-size</c>, or the pool's default.</summary>
    public int FrameLimit => MaxFrameSize is { } size ? (int)size
        : Remote is null ? new PythonPoolOptions().MaxFrameSize : new RemotePythonPoolOptions().MaxFrameSize;

    /// <summary>The target as the progress bar names it: <c>work.py:score</c>, or <c>work:score</c> on a remote pool.</summary>
    public string Label => (Remote is null ? Path.GetFileName(Target.File) : Target.Module) + ":" + Target.Function;

    public void Validate()
    {
        RunPaths.CheckInput(Input);
        if (Output is not null)
        {
            RunPaths.CheckOutput(Output, Input);
        }

        if (Size < 1 || MaxOverflow < 0 || Retries < 0)
        {
            throw new UsageException(string.Create(
                CultureInfo.InvariantCulture,
                $"--size must be at least 1, --max-overflow and --retries at least 0 (were {Size}, {MaxOverflow}, {Retries})."));
        }

        if (Timeout <= TimeSpan.Zero)
        {
            throw new UsageException("--timeout must be positive.");
        }

        if (Python is not null && Venv is not null)
        {
            throw new UsageException(VenvUsage.BothGiven);
        }

        if (Resume && Output is null)
        {
            throw new UsageException("--resume needs --output: it continues the results already in that file.");
        }

        if (Remote is not null && MaxFrameSize is < MinFrameSize or > MaxRemoteFrameSize)
        {
            throw new UsageException(string.Create(
                CultureInfo.InvariantCulture,
                $"--max-frame-size must be from 4KiB to 128MiB with --pool, RabbitMQ's largest message (was {Sizes.Format(MaxFrameSize.Value)})."));
        }

        if (MaxFrameSize is < MinFrameSize or > MaxFrameSizeLimit)
        {
            throw new UsageException(string.Create(
                CultureInfo.InvariantCulture,
                $"--max-frame-size must be from 4KiB to 1GiB (was {Sizes.Format(MaxFrameSize.Value)})."));
        }
    }

    public PythonPoolOptions PoolOptions()
    {
        var options = new PythonPoolOptions
        {
            Name = "run:" + Path.GetFileName(Target.File),
            Size = Size,
            MaxOverflow = MaxOverflow,
            CallTimeout = Timeout,
            MaxRetries = Retries,
            PythonPath = Python,
            VirtualEnvironment = Venv,
            CheckoutTimeout = System.Threading.Timeout.InfiniteTimeSpan,

            // Many inputs fail or crash in a bad batch; the run reports them per input rather than stopping.
            MaxRestarts = null,
        };
        if (MaxFrameSize is { } frame)
        {
            options.MaxFrameSize = (int)frame;
        }

        // FILE under a private name, whatever it is called (json.py, my.mod.py); its folder at the end of sys.path, so
        // that its imports of its neighbours resolve while nothing in it shadows a standard or installed module.
        options.ModuleFiles[Target.Module] = Target.File;
        options.ModuleFiles[RunTarget.CheckModuleName] = RunTarget.CheckFile;
        options.AppendedModulePaths.Add(Path.GetDirectoryName(Target.File)!);
        return options;
    }
}

/// <summary>What <c>--pool</c> and its options asked for. Immutable.</summary>
/// <param name="Pool">The remote pool's name.</param>
/// <param name="Broker">The broker's URI, or <see langword="null"/> for LIFEGUARD_BROKER's.</param>
/// <param name="Stream">Whether each input is a stream, its items an entry each.</param>
/// <param name="InFlight">The most inputs in flight, or <see langword="null"/> for the hosts' capacity.</param>
/// <param name="MaxQueueLength">The call queue's length limit, or <see langword="null"/> for the default.</param>
internal sealed record RemoteRun(string Pool, Uri? Broker, bool Stream, int? InFlight, int? MaxQueueLength);
