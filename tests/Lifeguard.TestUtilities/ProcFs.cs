using System.Globalization;

namespace Lifeguard.Testing;

/// <summary>What <c>/proc</c> says about processes, for tests that check workers by the pid they hold.</summary>
public static class ProcFs
{
    /// <summary>The process's state letter (R, S, T when stopped, Z for a zombie), or null when it is gone.</summary>
    public static char? State(int pid) => Stat(pid) is { } fields ? fields[0][0] : null;

    /// <summary>True while the process runs: a zombie has exited and only waits to be reaped.</summary>
    public static bool IsRunning(int pid) => State(pid) is { } state && state != 'Z';

    /// <summary>The parent's pid, or null when the process is gone.</summary>
    public static int? ParentOf(int pid) => Stat(pid) is { } fields ? int.Parse(fields[1], CultureInfo.InvariantCulture) : null;

    /// <summary>The pids of this process's running (not zombie) children.</summary>
    public static IReadOnlyList<int> Children() => ChildrenOf(Environment.ProcessId);

    /// <summary>The pids of <paramref name="parent"/>'s running (not zombie) children.</summary>
    public static IReadOnlyList<int> ChildrenOf(int parent)
    {
        var children = new List<int>();
        foreach (var dir in Directory.EnumerateDirectories("/proc"))
        {
            if (int.TryParse(Path.GetFileName(dir), NumberStyles.None, CultureInfo.InvariantCulture, out var pid)
                && Stat(pid) is { } fields && fields[0] != "Z" && int.Parse(fields[1], CultureInfo.InvariantCulture) == parent)
            {
                children.Add(pid);
            }
        }

        return children;
    }

    /// <summary>The fields of <c>/proc/PID/stat</c> after the command name: state, parent, ...; null when gone.</summary>
    private static string[]? Stat(int pid)
    {
        try
        {
            var stat = File.ReadAllText($"/proc/{pid}/stat");
            return stat[(stat.LastIndexOf(')') + 2)..].Split(' ');
        }
        catch (IOException)
        {
            return null;
        }
    }
}
