using Lifeguard.Testing;

namespace Lifeguard.Reliability.Tests;

/// <summary>The faults a chaos driver injects into a worker process.</summary>
public enum Fault
{
    /// <summary>SIGKILL: the worker dies at once, in a call or idle.</summary>
    Kill,

    /// <summary>SIGSTOP: the worker freezes; its next (or current) call hangs until the call timeout.</summary>
    Freeze,
}

/// <summary>
/// Picks a random live worker of one pool and signals it, by the pid the pool reports, after checking in /proc that the
/// pid is still a child of this process running the worker runtime. Counts what it injected. Thread-safe.
/// </summary>
public sealed class FaultInjector(Func<PoolStatus> status, int seed)
{
    private const int SigKill = 9;
    private const int SigStop = 19;

    private readonly Random _random = new(seed);
    private readonly HashSet<int> _seen = [];
    private readonly Lock _gate = new();
    private int _kills;
    private int _freezes;

    public int Kills => Volatile.Read(ref _kills);

    public int Freezes => Volatile.Read(ref _freezes);

    /// <summary>Every worker pid this injector saw in the pool's status.</summary>
    public IReadOnlyCollection<int> SeenPids
    {
        get
        {
            lock (_gate)
            {
                return [.. _seen];
            }
        }
    }

    /// <summary>Records the pool's current worker pids (to check afterwards that none survived).</summary>
    public IReadOnlyList<int> Observe()
    {
        var pids = status().Workers
            .Select(w => w.Details.TryGetValue("pid", out var pid) && pid is int p ? p : 0)
            .Where(p => p > 0)
            .ToList();
        lock (_gate)
        {
            _seen.UnionWith(pids);
        }

        return pids;
    }

    /// <summary>Injects <paramref name="fault"/> into one random worker; false when none could be hit.</summary>
    public bool Inject(Fault fault)
    {
        var pids = Observe();
        if (pids.Count == 0)
        {
            return false;
        }

        // A pid the status still lists may have just died (its death not yet seen by the pool: for a forked worker
        // the exit status comes from its template, a little later than a child's own exit): then another is tried.
        var candidates = pids.ToList();
        int victim;
        while (true)
        {
            lock (_gate)
            {
                victim = candidates[_random.Next(candidates.Count)];
            }

            if (IsOurWorker(victim))
            {
                break;
            }

            candidates.Remove(victim);
            if (candidates.Count == 0)
            {
                return false;
            }
        }

        ReliabilityTestBase.SendSignal(victim, fault == Fault.Kill ? SigKill : SigStop);
        Interlocked.Increment(ref fault == Fault.Kill ? ref _kills : ref _freezes);
        return true;
    }

    /// <summary>Picks a fault: mostly kills, one in <paramref name="freezeOneIn"/> a freeze.</summary>
    public Fault Next(int freezeOneIn)
    {
        lock (_gate)
        {
            return _random.Next(freezeOneIn) == 0 ? Fault.Freeze : Fault.Kill;
        }
    }

    /// <summary>A live (not zombie) child of this process whose command line runs the worker runtime.</summary>
    public static bool IsOurWorker(int pid)
    {
        // Spawned, it is our child; forked (PythonStartMode.ForkServer), the child of a template that is ours.
        if (!ProcFs.IsRunning(pid) || ProcFs.ParentOf(pid) is not { } parent
            || !(parent == Environment.ProcessId ? !IsTemplate(pid) : ProcFs.ParentOf(parent) == Environment.ProcessId && IsTemplate(parent)))
        {
            return false;
        }

        return CommandLine(pid).Contains("lifeguard_worker.py", StringComparison.Ordinal);
    }

    /// <summary>Whether <paramref name="pid"/> runs a pool's fork server template (its forked workers share its command line).</summary>
    public static bool IsTemplate(int pid) => ProcFs.ParentOf(pid) == Environment.ProcessId && CommandLine(pid).Contains("--fork-server", StringComparison.Ordinal);

    private static string CommandLine(int pid)
    {
        try
        {
            return File.ReadAllText($"/proc/{pid}/cmdline");
        }
        catch (IOException)
        {
            return "";
        }
    }

    /// <summary>The process state letter from /proc (R, S, T for stopped, Z), or null when it is gone.</summary>
    public static char? State(int pid) => ProcFs.State(pid);
}
