namespace Lifeguard.Cli.Tests;

/// <summary>Runs the built command as a separate process, as a user would, and captures what it prints.</summary>
public static class CliProcess
{
    public static Task<(int ExitCode, string Output, string Error)> RunAsync(params string[] args) => RunAsync(environment: null, args);

    /// <summary>As <see cref="RunAsync(string[])"/>, with the environment changed (a null value removes a variable).</summary>
    public static async Task<(int ExitCode, string Output, string Error)> RunAsync(IReadOnlyDictionary<string, string?>? environment, params string[] args)
    {
        using var run = CliRun.Start(environment, args);
        int code = await run.WaitForExitAsync(TimeSpan.FromSeconds(60));
        return (code, run.Stdout, run.Stderr);
    }
}
