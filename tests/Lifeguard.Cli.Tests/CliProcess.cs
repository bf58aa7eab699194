namespace Lifeguard.Cli.Tests;

/// <summary>Runs the built command as a separate process, as a user would, and captures what it prints.</summary>
public static class CliProcess
{
    public static async Task<(int ExitCode, string Output, string Error)> RunAsync(params string[] args)
    {
        using var run = CliRun.Start(args);
        int code = await run.WaitForExitAsync(TimeSpan.FromSeconds(60));
        return (code, run.Stdout, run.Stderr);
    }
}
