using Lifeguard.Testing;

namespace Lifeguard.Python.Tests;

/// <summary>Helpers for tests that start real python3 workers on the fixture modules.</summary>
public abstract class PythonTestBase
{
    protected static string FixturesPath => Path.Combine(AppContext.BaseDirectory, "python");

    protected RecordingLoggerProvider Logs { get; } = new();

    protected PythonPoolOptions Options(string name, int size = 1, int maxOverflow = 0)
    {
        var options = new PythonPoolOptions
        {
            Name = name,
            Size = size,
            MaxOverflow = maxOverflow,
            CallTimeout = TimeSpan.FromSeconds(30),
            LoggerFactory = Logs.CreateFactory(),
        };
        options.ModulePaths.Add(FixturesPath);
        return options;
    }

    /// <summary>
    /// Options for tests that run a call into its timeout: the fixtures are imported at start, so the short timeout is
    /// never spent on the first call's import; and 3 s leaves a loaded machine room for the calls meant to succeed.
    /// </summary>
    protected PythonPoolOptions TimeoutOptions(string name)
    {
        var options = Options(name);
        options.Preload.Add("fixtures");
        options.CallTimeout = TimeSpan.FromSeconds(3);
        return options;
    }

    /// <summary>True while the process runs (a zombie has exited: it only waits to be reaped).</summary>
    protected static bool ProcessExists(int pid) => ProcFs.IsRunning(pid);
}
