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

    /// <summary>True while the process runs (a zombie has exited: it only waits to be reaped).</summary>
    protected static bool ProcessExists(int pid) => ProcFs.IsRunning(pid);
}
