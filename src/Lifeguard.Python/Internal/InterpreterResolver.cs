using System.Collections.Concurrent;
using System.Diagnostics;

namespace Lifeguard.Python;

/// <summary>
/// Turns the configured interpreter (a virtual environment's, else the option, else <c>LIFEGUARD_PYTHON</c>, else
/// <c>python3</c> on PATH) into the real binary, once per name: a pyenv-style shim costs tens of milliseconds per start, the binary it runs does not.
/// Thread-safe.
/// </summary>
internal static class InterpreterResolver
{
    public const string EnvironmentVariable = "LIFEGUARD_PYTHON";
    private static readonly ConcurrentDictionary<string, Lazy<Task<string>>> Cache = new(StringComparer.Ordinal);

    private const string CompileAndReport =
        "import sys\n"
        + "try:\n"
        + "    import compileall\n"
        + "    compileall.compile_dir(sys.argv[1], quiet=2)\n"
        + "except Exception:\n"
        + "    pass\n"
        + "sys.stdout.write(sys.executable)\n";

    public static string Requested(string? configured)
        => !string.IsNullOrWhiteSpace(configured) ? configured
            : Environment.GetEnvironmentVariable(EnvironmentVariable) is { Length: > 0 } fromEnvironment ? fromEnvironment
            : "python3";

    public static Task<string> ResolveAsync(string requested)
        => Cache.GetOrAdd(requested, r => new Lazy<Task<string>>(() => ProbeAsync(r))).Value;

    private static async Task<string> ProbeAsync(string requested)
    {
        var info = new ProcessStartInfo(requested)
        {
            RedirectStandardOutput = true,
            RedirectStandardError = true,
            RedirectStandardInput = true,
            UseShellExecute = false,
        };
        // The same run compiles the worker runtime's modules for this interpreter, once: a worker never has to, even
        // where PYTHONDONTWRITEBYTECODE=1 (a common container setting) keeps Python from writing its bytecode cache,
        // since that flag stops writing, not reading. A folder it cannot write to is left as it is.
        info.ArgumentList.Add("-c");
        info.ArgumentList.Add(CompileAndReport);
        info.ArgumentList.Add(RuntimeDeployer.RuntimeDirectory);
        Process process;
        try
        {
            process = Process.Start(info)!;
        }
        catch (Exception e) when (e is System.ComponentModel.Win32Exception or FileNotFoundException)
        {
            Cache.TryRemove(requested, out _);
            throw new PythonStartException(
                $"The Python interpreter '{requested}' could not be started: {e.Message}. Install python3, put it on PATH, "
                    + $"or name it with PythonPoolOptions.PythonPath or the {EnvironmentVariable} environment variable.",
                e);
        }

        using (process)
        {
            process.StandardInput.Close();
            var output = process.StandardOutput.ReadToEndAsync();
            var error = process.StandardError.ReadToEndAsync();
            using var timeout = new CancellationTokenSource(TimeSpan.FromSeconds(30));
            try
            {
                await process.WaitForExitAsync(timeout.Token).ConfigureAwait(false);
            }
            catch (OperationCanceledException)
            {
                process.Kill();
                Cache.TryRemove(requested, out _);
                throw new PythonStartException($"The Python interpreter '{requested}' did not answer within 30 s.", null);
            }

            var executable = (await output.ConfigureAwait(false)).Trim();
            if (process.ExitCode != 0)
            {
                Cache.TryRemove(requested, out _);
                throw new PythonStartException(
                    $"The Python interpreter '{requested}' failed (exit code {process.ExitCode}): {(await error.ConfigureAwait(false)).Trim()}",
                    null);
            }

            return executable.Length > 0 && File.Exists(executable) ? executable : requested;
        }
    }
}
