namespace Lifeguard.Benchmarks;

/// <summary>Dispatches <c>quick &lt;set&gt;</c> to the quick set of that name. Register new sets in <see cref="Sets"/>.</summary>
internal static class QuickRunner
{
    private static readonly IQuickSet[] Sets =
    [
        new PoolQuickSet(),
        new PythonQuickSet(),
        new ClusterQuickSet(),
    ];

    /// <summary>
    /// Runs the set named by <paramref name="args"/>[0] (the arguments after <c>quick</c>), writing its results to
    /// <paramref name="output"/>; an unknown or missing name writes usage to <paramref name="error"/> and returns 2.
    /// </summary>
    public static async Task<int> RunAsync(string[] args, TextWriter output, TextWriter error)
    {
        var name = args.Length > 0 ? args[0] : null;
        var set = Array.Find(Sets, s => string.Equals(s.Name, name, StringComparison.Ordinal));
        if (set is null)
        {
            await error.WriteLineAsync(name is null ? "quick: name a benchmark set." : $"quick: no benchmark set named '{name}'.");
            await error.WriteLineAsync("usage: quick <set> [scenario,...], where <set> is one of:");
            foreach (var s in Sets)
            {
                await error.WriteLineAsync($"  {s.Name,-10} {s.Description}");
            }

            return 2;
        }

        return args.Length > 1
            ? await set.RunAsync(output, args[1].Split(',', StringSplitOptions.RemoveEmptyEntries | StringSplitOptions.TrimEntries).ToHashSet(StringComparer.Ordinal))
            : await set.RunAsync(output);
    }
}
