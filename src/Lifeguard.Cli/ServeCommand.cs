using System.CommandLine;
using System.Globalization;
using System.Runtime.InteropServices;
using Lifeguard.Python;
using Lifeguard.RabbitMQ;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Logging;

namespace Lifeguard.Cli;

/// <summary>
/// <c>lifeguard serve FILE.py --pool NAME [--broker URI]</c>: runs a local pool of Python workers on FILE's module and
/// serves the remote pool NAME's calls from RabbitMQ until SIGINT or SIGTERM, then drains and stops. Stateless; each
/// invocation owns its pool and its host.
/// </summary>
internal static class ServeCommand
{
    /// <summary>Python's keywords, which are identifiers by form but cannot name a module to import.</summary>
    private static readonly HashSet<string> Keywords = new(StringComparer.Ordinal)
    {
        "False", "None", "True", "and", "as", "assert", "async", "await", "break", "class", "continue", "def", "del", "elif",
        "else", "except", "finally", "for", "from", "global", "if", "import", "in", "is", "lambda", "nonlocal", "not", "or",
        "pass", "raise", "return", "try", "while", "with", "yield",
    };

    public static Command Create(TextWriter output, TextWriter error)
    {
        var file = new Argument<string>("FILE.py") { Description = "The Python file to serve; its module is named after the file (FILE), which callers call as FILE:FUNCTION." };
        var pool = new Option<string>("--pool") { Description = "The remote pool's name: callers reach these workers as this pool.", Required = true };
        var broker = new Option<string?>("--broker") { Description = "The broker's AMQP URI (amqp://user:password@host:5672/vhost, amqps:// for TLS). Default: LIFEGUARD_BROKER from the environment, so that the password need not be on the command line." };
        var size = new Option<int?>("--size") { Description = "Workers kept ready. Default: the number of processors." };
        var maxOverflow = new Option<int>("--max-overflow") { Description = "Extra workers for bursts. Default 0. The host takes at most size + max-overflow calls at once." };
        var python = new Option<string?>("--python") { Description = "The Python interpreter. Default: LIFEGUARD_PYTHON, else python3 on PATH." };
        var venv = new Option<string?>("--venv") { Description = "A virtual environment's folder (python3 -m venv, uv venv): its interpreter runs the workers, activated (VIRTUAL_ENV, its bin first on PATH). Not with --python." };
        var timeout = new Option<TimeSpan?>("--timeout")
        {
            Description = $"The longest any call may run here, whatever its caller allows ({Durations.Accepted}). Default 100s.",
            CustomParser = r => LifeguardCommand.ParseDuration(r),
        };
        var maxQueueLength = new Option<int?>("--max-queue-length") { Description = "The call queue's length limit, the same on every caller and host of the pool. Default 10000." };
        var poisonThreshold = new Option<int?>("--poison-threshold") { Description = "Deliveries that make a message a poison input, moved to lifeguard.NAME.dead. Default 3." };
        var hostName = new Option<string?>("--host-name") { Description = "This host's name in the pool's status. Default: the machine's name and this process's id." };
        var drain = new Option<TimeSpan?>("--drain")
        {
            Description = $"On SIGINT or SIGTERM, how long the calls running here may finish before they are interrupted ({Durations.Accepted}). Default 30s.",
            CustomParser = r => LifeguardCommand.ParseDuration(r),
        };
        var quiet = new Option<bool>("--quiet") { Description = "Log warnings only, not the start, stop and worker output lines." };
        var command = new Command(
            "serve",
            "Serve a Python file's functions to a remote pool on RabbitMQ: a supervised pool of Python workers on this machine\n"
                + "takes the pool's calls from its queue, at most size + max-overflow at once, until SIGINT or SIGTERM.\n"
                + "Callers use RemotePythonPool, or `lifeguard run MODULE:FUNCTION --broker URI --pool NAME`.\n"
                + "Only FILE's module is served (AllowedModules), and only its public functions.\n"
                + "Logs go to stderr; a broker password is never shown. Exit code 0 after a stop by signal, 2 when nothing was\n"
                + "served: bad arguments, FILE does not load, no broker named.\n\n"
                + "Examples:\n"
                + "  LIFEGUARD_BROKER=amqp://app:secret@mq.internal/ lifeguard serve optimizer.py --pool stacking --size 4\n"
                + "  lifeguard serve model.py --pool scoring --broker amqps://app:secret@mq.internal/ --max-overflow 2")
        {
            file, pool, broker, size, maxOverflow, python, venv, timeout, maxQueueLength, poisonThreshold, hostName, drain, quiet,
        };

        command.SetAction(async (parse, cancellationToken) =>
        {
            var path = Path.GetFullPath(parse.GetValue(file)!);
            var module = ModuleOf(path);
            var brokerText = parse.GetValue(broker);
            Uri? uri = null;
            if (brokerText is not null && !Uri.TryCreate(brokerText, UriKind.Absolute, out uri))
            {
                throw new UsageException("--broker is not a URI: use amqp://user:password@host:port/vhost or amqps://....");
            }

            if (parse.GetValue(python) is not null && parse.GetValue(venv) is not null)
            {
                throw new UsageException(VenvUsage.BothGiven);
            }

            var options = new PythonPoolOptions
            {
                Name = parse.GetValue(pool)!,
                Size = parse.GetValue(size) ?? Environment.ProcessorCount,
                MaxOverflow = parse.GetValue(maxOverflow),
                PythonPath = parse.GetValue(python),
                VirtualEnvironment = parse.GetValue(venv),
                CallTimeout = parse.GetValue(timeout) ?? TimeSpan.FromSeconds(100),
                MaxRetries = 0,
                MaxRestarts = null,
                AllowedModules = new HashSet<string>(StringComparer.Ordinal) { module },
            };
            options.ModuleFiles[module] = path;
            options.AppendedModulePaths.Add(Path.GetDirectoryName(path)!);
            options.Preload.Add(module);
            var serve = new RabbitMqServeOptions
            {
                Broker = uri,
                HostName = parse.GetValue(hostName),
                DrainTimeout = parse.GetValue(drain) ?? TimeSpan.FromSeconds(30),
            };
            serve.MaxQueueLength = parse.GetValue(maxQueueLength) ?? serve.MaxQueueLength;
            serve.PoisonThreshold = parse.GetValue(poisonThreshold) ?? serve.PoisonThreshold;
            return await ServeAsync(options, serve, parse.GetValue(quiet), output, error, cancellationToken).ConfigureAwait(false);
        });
        return command;
    }

    /// <summary>FILE's module name: its stem, which must be a Python identifier and not a keyword.</summary>
    internal static string ModuleOf(string path)
    {
        if (!File.Exists(path))
        {
            throw new UsageException($"{path} does not exist.");
        }

        if (!path.EndsWith(".py", StringComparison.Ordinal))
        {
            throw new UsageException($"{Path.GetFileName(path)} is not a .py file.");
        }

        var stem = Path.GetFileNameWithoutExtension(path);
        if (!IsIdentifier(stem) || Keywords.Contains(stem))
        {
            throw new UsageException(
                $"{Path.GetFileName(path)} cannot be served: its module would be named '{stem}', which is not a Python identifier. Rename the file (letters, digits and '_', not starting with a digit).");
        }

        return stem;
    }

    internal static bool IsIdentifier(string name)
        => name.Length > 0 && (char.IsLetter(name[0]) || name[0] == '_') && name.All(c => char.IsLetterOrDigit(c) || c == '_');

    private static async Task<int> ServeAsync(
        PythonPoolOptions options, RabbitMqServeOptions serve, bool quiet, TextWriter output, TextWriter error, CancellationToken cancellationToken)
    {
        using var loggers = LoggerFactory.Create(b => b
            .SetMinimumLevel(quiet ? LogLevel.Warning : LogLevel.Information)
            .AddFilter("Lifeguard.Pool", LogLevel.Warning)
            .AddSimpleConsole(c =>
            {
                c.SingleLine = true;
                c.TimestampFormat = "HH:mm:ss ";
            })
            .Services.Configure<Microsoft.Extensions.Logging.Console.ConsoleLoggerOptions>(c => c.LogToStandardErrorThreshold = LogLevel.Trace));
        options.LoggerFactory = loggers;
        serve.LoggerFactory = loggers;

        using var stop = CancellationTokenSource.CreateLinkedTokenSource(cancellationToken);
        void OnSignal(PosixSignalContext context)
        {
            // The first signal drains; the process ends once the host and the pool have stopped.
            context.Cancel = true;
            stop.Cancel();
        }

        using var sigint = PosixSignalRegistration.Create(PosixSignal.SIGINT, OnSignal);
        using var sigterm = PosixSignalRegistration.Create(PosixSignal.SIGTERM, OnSignal);

        PythonPool pool;
        try
        {
            pool = await PythonPool.StartAsync(options, stop.Token).ConfigureAwait(false);
        }
        catch (Exception e) when (e is ArgumentException or WorkerStartException or PythonStartException)
        {
            throw new UsageException($"the pool for {options.AllowedModules!.First()} did not start: {e.Message}");
        }
        catch (OperationCanceledException) when (stop.IsCancellationRequested)
        {
            return ExitCodes.Success;
        }

        await using (pool.ConfigureAwait(false))
        {
            RabbitMqPoolHost host;
            try
            {
                host = await RabbitMqPoolHost.StartAsync(pool, serve, stop.Token).ConfigureAwait(false);
            }
            catch (ArgumentException e)
            {
                throw new UsageException(e.Message);
            }
            catch (OperationCanceledException) when (stop.IsCancellationRequested)
            {
                return ExitCodes.Success;
            }

            await using (host.ConfigureAwait(false))
            {
                var status = host.GetStatus();
                await output.WriteLineAsync(string.Create(
                    CultureInfo.InvariantCulture,
                    $"serving pool '{host.PoolName}' as host '{host.HostName}': module {options.AllowedModules!.First()}, capacity {status.Capacity}")).ConfigureAwait(false);
                await output.FlushAsync(CancellationToken.None).ConfigureAwait(false);
                try
                {
                    await Task.Delay(Timeout.Infinite, stop.Token).ConfigureAwait(false);
                }
                catch (OperationCanceledException)
                {
                }

                await host.StopAsync(CancellationToken.None).ConfigureAwait(false);
                await error.WriteLineAsync(string.Create(CultureInfo.InvariantCulture, $"lifeguard serve: stopped after {host.CallsServed} calls")).ConfigureAwait(false);
            }
        }

        return ExitCodes.Success;
    }
}
