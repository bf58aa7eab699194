using System.CommandLine;
using System.Globalization;
using Lifeguard.Python;

namespace Lifeguard.Cli;

/// <summary>
/// <c>lifeguard run FILE.py:FUNCTION --input IN.jsonl</c>: calls the function once per non-blank input line in a pool of
/// Python workers and writes one JSON line per input, in input order. Stateless; each invocation owns its pool.
/// </summary>
internal static class RunCommand
{
    public static Command Create(TextWriter error)
    {
        var target = new Argument<string>("FILE.py:FUNCTION") { Description = "The Python file and the function in it to call; the file's folder goes at the end of the module path." };
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
                + "--dashboard prints \"dashboard: URL\" on stderr and serves the pool's live page there until the run ends.\n\n"
                + "Examples:\n"
                + "  lifeguard run optimizer.py:optimize --input deliveries.jsonl > plans.jsonl\n"
                + "  lifeguard run model.py:score --input rows.jsonl --output scores.jsonl --size 4 --timeout 30s --retries 2\n"
                + "  lifeguard run model.py:score --input rows.jsonl --output scores.jsonl --resume\n"
                + "  lifeguard run model.py:score --input rows.jsonl --output scores.jsonl --dashboard")
        {
            target, input, outputFile, size, maxOverflow, timeout, retries, python, grace, resume, maxFrameSize, quiet,
        };
        dashboard.AddTo(command);

        command.SetAction(async (parse, cancellationToken) =>
        {
            var settings = new RunSettings(
                ParseTarget(parse.GetValue(target)!),
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
                dashboard.Get(parse));
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

    /// <summary>The frame size in force: <c>--max-frame-size</c>, or the pool's default.</summary>
    public int FrameLimit => MaxFrameSize is { } size ? (int)size : new PythonPoolOptions().MaxFrameSize;

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

        if (Resume && Output is null)
        {
            throw new UsageException("--resume needs --output: it continues the results already in that file.");
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
            CheckoutTimeout = System.Threading.Timeout.InfiniteTimeSpan,

            // Many inputs fail or crash in a bad batch; the run reports them per input rather than stopping.
            MaxRestarts = int.MaxValue,
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
