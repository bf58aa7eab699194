using System.Globalization;
using System.Runtime.InteropServices;
using Lifeguard.Testing;

namespace Lifeguard.Reliability.Tests;

/// <summary>Shared helpers for the reliability suites: the fixture modules, the profile, and process checks by pid.</summary>
public abstract partial class ReliabilityTestBase
{
    /// <summary>The folder holding the suites' Python modules and hostile workers.</summary>
    protected static string PythonPath => Path.Combine(AppContext.BaseDirectory, "python");

    /// <summary>
    /// <see langword="true"/> for the long profile (<c>LIFEGUARD_RELIABILITY=long</c>): the issue-sized loads that take
    /// tens of minutes. The CI profile is the default.
    /// </summary>
    protected static bool LongProfile =>
        string.Equals(Environment.GetEnvironmentVariable("LIFEGUARD_RELIABILITY"), "long", StringComparison.OrdinalIgnoreCase);

    protected RecordingLoggerProvider Logs { get; } = new();

    protected static int EnvInt(string name, int fallback) =>
        int.TryParse(Environment.GetEnvironmentVariable(name), NumberStyles.Integer, CultureInfo.InvariantCulture, out var value) ? value : fallback;

    /// <summary>True while the process runs (a zombie has exited: it only waits to be reaped).</summary>
    protected static bool ProcessExists(int pid)
    {
        try
        {
            var stat = File.ReadAllText($"/proc/{pid}/stat");
            var state = stat[(stat.LastIndexOf(')') + 2)..][0];
            return state != 'Z';
        }
        catch (IOException)
        {
            return false;
        }
    }

    /// <summary>The pids of this process's live children.</summary>
    protected static IReadOnlyList<int> ChildProcesses()
    {
        var self = Environment.ProcessId;
        var children = new List<int>();
        foreach (var dir in Directory.EnumerateDirectories("/proc"))
        {
            if (!int.TryParse(Path.GetFileName(dir), NumberStyles.None, CultureInfo.InvariantCulture, out var pid))
            {
                continue;
            }

            try
            {
                var stat = File.ReadAllText(Path.Combine(dir, "stat"));
                var fields = stat[(stat.LastIndexOf(')') + 2)..].Split(' ');
                if (fields[0] != "Z" && int.Parse(fields[1], CultureInfo.InvariantCulture) == self)
                {
                    children.Add(pid);
                }
            }
            catch (IOException)
            {
                // It exited while we looked.
            }
        }

        return children;
    }

    /// <summary>Sends a signal to one process, by the pid we hold.</summary>
    public static void SendSignal(int pid, int signal) => _ = Kill(pid, signal);

    [LibraryImport("libc", EntryPoint = "kill", SetLastError = true)]
    private static partial int Kill(int pid, int signal);
}
