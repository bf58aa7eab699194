using System.Diagnostics;
using Lifeguard.Python;

namespace Lifeguard.Benchmarks;

/// <summary>What every Python benchmark shares: the module folder, the resolved interpreter, pool options, child processes.</summary>
internal static class PythonBench
{
    /// <summary>The benchmark module every contender calls (<c>python/benchmod.py</c>).</summary>
    public const string Module = "benchmod";

    /// <summary>The folder holding <c>benchmod.py</c>, <c>pipe_child.py</c> and <c>stdlib_driver.py</c>, next to the assembly.</summary>
    public static string Directory => Path.Combine(AppContext.BaseDirectory, "python");

    /// <summary>
    /// The real interpreter binary (<c>sys.executable</c> of <c>python3</c> on PATH, or of <c>LIFEGUARD_PYTHON</c>),
    /// resolved by Lifeguard itself, once per process: every contender runs the same binary, no shim.
    /// </summary>
    public static Task<string> InterpreterAsync() => InterpreterResolver.ResolveAsync(InterpreterResolver.Requested(null));

    public static PythonPoolOptions Options(string name, int size)
    {
        var options = new PythonPoolOptions
        {
            Name = name,
            Size = size,
            MaxOverflow = 0,
            CheckoutTimeout = Timeout.InfiniteTimeSpan,
        };
        options.ModulePaths.Add(Directory);
        return options;
    }

    public static Task<PythonPool> StartPoolAsync(string name, int size) => PythonPool.StartAsync(Options(name, size));

    /// <summary>Starts <c>python3 script args…</c> in <see cref="Directory"/>, stdin and stdout redirected, stderr inherited.</summary>
    public static async Task<Process> StartScriptAsync(string script, params string[] args)
    {
        string interpreter = await InterpreterAsync();
        var info = new ProcessStartInfo(interpreter)
        {
            RedirectStandardInput = true,
            RedirectStandardOutput = true,
            UseShellExecute = false,
            WorkingDirectory = Directory,
        };
        info.ArgumentList.Add(Path.Combine(Directory, script));
        foreach (var arg in args)
        {
            info.ArgumentList.Add(arg);
        }

        return Process.Start(info) ?? throw new InvalidOperationException($"Could not start {interpreter} {script}.");
    }

    /// <summary>
    /// Stops a child we started: closes its stdin (every benchmark child exits at the end of its input), waits, and
    /// kills it and its descendants, by the pid we hold, if it does not exit in time.
    /// </summary>
    public static async Task StopAsync(Process process, TimeSpan grace)
    {
        try
        {
            process.StandardInput.Close();
        }
        catch (IOException)
        {
            // Already gone.
        }

        using var timeout = new CancellationTokenSource(grace);
        try
        {
            await process.WaitForExitAsync(timeout.Token);
        }
        catch (OperationCanceledException)
        {
            try
            {
                process.Kill(entireProcessTree: true);
            }
            catch (InvalidOperationException)
            {
                // Exited meanwhile.
            }

            await process.WaitForExitAsync();
        }
        finally
        {
            process.Dispose();
        }
    }

    /// <summary>Nanoseconds since <paramref name="startTimestamp"/> (a <see cref="Stopwatch.GetTimestamp"/>).</summary>
    public static double NsSince(long startTimestamp) => (Stopwatch.GetTimestamp() - startTimestamp) * (1e9 / Stopwatch.Frequency);
}
