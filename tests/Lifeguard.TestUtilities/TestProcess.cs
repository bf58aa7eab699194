using System.Diagnostics;

namespace Lifeguard.Testing;

/// <summary>Runs a helper program the tests need (argv only, never a shell) to its end, within a generous bound.</summary>
public static class TestProcess
{
    /// <summary>Starts <paramref name="info"/> with its streams redirected, and waits up to 120 s for its end; killed by its own handle past that.</summary>
    public static async Task<(int ExitCode, string Output, string Error)> RunAsync(ProcessStartInfo info)
    {
        info.RedirectStandardOutput = true;
        info.RedirectStandardError = true;
        info.RedirectStandardInput = true;
        info.UseShellExecute = false;
        using var process = Process.Start(info)!;
        process.StandardInput.Close();
        var output = process.StandardOutput.ReadToEndAsync();
        var error = process.StandardError.ReadToEndAsync();
        using var timeout = new CancellationTokenSource(TimeSpan.FromSeconds(120));
        try
        {
            await process.WaitForExitAsync(timeout.Token);
        }
        catch (OperationCanceledException)
        {
            process.Kill(entireProcessTree: false); // the process this test started, by its own handle
            throw;
        }

        return (process.ExitCode, await output, await error);
    }
}
