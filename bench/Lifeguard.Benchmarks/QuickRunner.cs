namespace Lifeguard.Benchmarks;

/// <summary>
/// Dispatches <c>quick &lt;set&gt; [scenario,...] [--short]</c> to the quick set of that name. Register new sets in <see cref="Sets"/>.
/// <c>--short</c> runs fewer, shorter rounds (<see cref="QuickRounds.Short"/>).
/// </summary>
internal static class QuickRunner
{
    private static readonly PoolQuickSet Pool = new();
    private static readonly PythonQuickSet Python = new();

    private static readonly IQuickSet[] Sets =
    [
        Pool,
        Python,
        new ClusterQuickSet(),
        new RegressionGate(Pool, Python),
    ];

    /// <summary>
    /// Runs the set named by <paramref name="args"/>[0] (the arguments after <c>quick</c>), writing its results to
    /// <paramref name="output"/>; an unknown or missing name writes usage to <paramref name="error"/> and returns 2.
    /// </summary>
    public static async Task<int> RunAsync(string[] args, TextWriter output, TextWriter error)
    {
        var name = args.Length > 0 ? args[0] : null;
        var set = Array.Find(Sets, s => string.Equals(s.Name, name, StringComparison.Ordinal));
        var rest = args.Length > 1 ? args[1..] : [];
        var flags = rest.Where(a => a.StartsWith("--", StringComparison.Ordinal)).ToList();
        var scenarios = rest.Where(a => !a.StartsWith("--", StringComparison.Ordinal)).ToList();
        if (set is null || flags.Any(f => f != "--short") || scenarios.Count > 1)
        {
            await error.WriteLineAsync(
                name is null ? "quick: name a benchmark set."
                : set is null ? $"quick: no benchmark set named '{name}'."
                : scenarios.Count > 1 ? "quick: name the scenarios as one comma-separated list."
                : $"quick: unknown option '{flags.First(f => f != "--short")}'.");
            await error.WriteLineAsync("usage: quick <set> [scenario,...] [--short], where <set> is one of:");
            foreach (var s in Sets)
            {
                await error.WriteLineAsync($"  {s.Name,-10} {s.Description}");
            }

            return 2;
        }

        QuickRounds.Short = flags.Contains("--short");
        return scenarios.Count == 1
            ? await set.RunAsync(output, scenarios[0].Split(',', StringSplitOptions.RemoveEmptyEntries | StringSplitOptions.TrimEntries).ToHashSet(StringComparer.Ordinal))
            : await set.RunAsync(output);
    }
}
