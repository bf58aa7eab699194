using System.CommandLine;
using System.CommandLine.Help;
using System.CommandLine.Parsing;

namespace Lifeguard.Cli;

/// <summary>The root of the <c>lifeguard</c> command: parsing, usage errors (one line, exit code 2), dispatch. Stateless.</summary>
internal static class LifeguardCommand
{
    public static async Task<int> RunAsync(string[] args, TextWriter output, TextWriter error)
    {
        // Not RootCommand: it names itself after the executable, which is Lifeguard.Cli under `dotnet run` and in
        // the tool's package. The command is `lifeguard` however it is started.
        var root = new Command("lifeguard", "Lifeguard: supervised worker pools. Run a Python function over a file of inputs, serve one to a cluster, or size a pool.")
        {
            new HelpOption(),
            new VersionOption(),
            BenchCommand.Create(output),
            DemoCommand.Create(output, error),
            RunCommand.Create(error),
            ServeCommand.Create(output, error),
            SizeCommand.Create(output),
        };

        var parse = root.Parse(args);
        if (parse.Errors.Count > 0)
        {
            var command = parse.CommandResult.Command;
            var name = command == root ? "lifeguard" : "lifeguard " + command.Name;
            // An unknown word says more than the "required command" error it also causes.
            var first = parse.Errors.FirstOrDefault(e => e.Message.StartsWith("Unrecognized", StringComparison.Ordinal)) ?? parse.Errors[0];
            await error.WriteLineAsync($"{name}: {first.Message} (see '{name} --help')").ConfigureAwait(false);
            return ExitCodes.Usage;
        }

        try
        {
            // Our own handler: a usage error found while running is one line and exit code 2, not a stack trace.
            // `run`, `demo` and `serve` handle SIGINT and SIGTERM themselves (run writes what finished first, demo stops
            // its pools and its page, serve drains its calls); the others are cancelled by them.
            var configuration = new InvocationConfiguration { Output = output, Error = error, EnableDefaultExceptionHandler = false };
            if (parse.CommandResult.Command.Name is "run" or "demo" or "serve")
            {
                configuration.ProcessTerminationTimeout = null;
            }

            return await parse.InvokeAsync(configuration).ConfigureAwait(false);
        }
        catch (UsageException e)
        {
            await error.WriteLineAsync($"lifeguard: {e.Message}").ConfigureAwait(false);
            return ExitCodes.Usage;
        }
    }

    /// <summary>Parses a duration option's token, reporting a one-line error for anything else.</summary>
    public static TimeSpan ParseDuration(ArgumentResult result)
    {
        var token = result.Tokens.Count > 0 ? result.Tokens[0].Value : null;
        if (Durations.TryParse(token, out var value))
        {
            return value;
        }

        result.AddError($"'{token}' is not a duration; use {Durations.Accepted}.");
        return default;
    }
}
