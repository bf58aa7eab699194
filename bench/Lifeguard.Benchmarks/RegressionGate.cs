using System.Globalization;
using System.Text.Json;

namespace Lifeguard.Benchmarks;

/// <summary>
/// <c>quick gate</c>, the CI's regression gate: runs <c>quick pool</c> and <c>quick python</c> once in short rounds,
/// prints their tables, then fails only on a gross regression: a figure whose ratio is above <see cref="Margin"/>
/// times its target, in that run and in a second run of its set. Figures without a target never gate; a target whose baseline was not measured (not in the JSON
/// lines) is skipped and said so. The targets are here and nowhere else.
/// </summary>
internal sealed class RegressionGate : IQuickSet
{
    /// <summary>How far above its target a ratio may be before the gate fails: the shared machine is noisy.</summary>
    public const double Margin = 1.5;

    /// <summary>Every target (subject / baseline), as the specification sets them.</summary>
    public static readonly IReadOnlyList<Target> Targets =
    [
        new("pool.uncontended", "semaphore-bag", 0.8),
        new("pool.uncontended", "objectpool", 2.5),
        new("pool.contended64on8", "semaphore-bag", 0.8),
        new("pool.contended64on8", "channel-pool", 1.0),
        new("python.roundtrip", "pipe-floor", 1.1),
        new("python.scaling", "one-worker", 0.52),
        new("python.scaling", "pythonnet-2threads", 0.55),
        new("python.replace", "spawn", 0.1),
        new("python.bytes16mib", "raw-pipe", 0.5),
    ];

    private readonly IQuickSet[] _sets;

    public RegressionGate(params IQuickSet[] sets) => _sets = sets;

    public string Name => "gate";

    public string Description => "quick pool and quick python in short rounds; fails on a ratio above 1.5x its target";

    public async Task<int> RunAsync(TextWriter output)
    {
        bool wasShort = QuickRounds.Short;
        QuickRounds.Short = true;
        try
        {
            var figures = new Dictionary<IQuickSet, List<Figure>>();
            foreach (var set in _sets)
            {
                if (await MeasureAsync(set, output) is not { } measured)
                {
                    return 1;
                }

                figures[set] = measured;
            }

            var verdicts = Judge([.. figures.Values.SelectMany(f => f)]);
            foreach (var verdict in verdicts)
            {
                await output.WriteLineAsync(verdict.ToString());
            }

            // A gross regression shows again; a noisy round on the shared machine seldom does. The sets that gave a
            // failing figure run once more, and a target fails only if it fails in both runs.
            var failing = verdicts.Where(v => v.Outcome == Outcome.Failed).Select(v => v.Target).ToList();
            if (failing.Count > 0)
            {
                await output.WriteLineAsync($"gate: {failing.Count} ratio(s) above {Margin}x the target; measuring their sets once more.");
                await output.WriteLineAsync();
                foreach (var set in _sets.Where(set => figures[set].Any(f => failing.Any(t => t.Benchmark == f.Benchmark && t.Baseline == f.Baseline))))
                {
                    if (await MeasureAsync(set, output) is not { } again)
                    {
                        return 1;
                    }

                    bool FromThisSet(Target t) => figures[set].Any(f => f.Benchmark == t.Benchmark && f.Baseline == t.Baseline);
                    var second = Judge(again).Where(v => failing.Contains(v.Target) && FromThisSet(v.Target)).ToList();
                    foreach (var verdict in second)
                    {
                        await output.WriteLineAsync(verdict.ToString() + " (again)");
                    }

                    failing.RemoveAll(t => FromThisSet(t) && !second.Any(v => v.Target == t && v.Outcome == Outcome.Failed));
                }
            }

            await output.WriteLineAsync(failing.Count == 0
                ? $"gate: passed ({verdicts.Count(v => v.Outcome != Outcome.Skipped)} targets checked, a ratio fails above {Margin}x its target in two runs)."
                : $"gate: FAILED, {failing.Count} ratio(s) above {Margin}x the target in two runs: {string.Join(", ", failing.Select(t => $"{t.Benchmark} / {t.Baseline}"))}.");
            await output.FlushAsync();
            return failing.Count == 0 ? 0 : 1;
        }
        finally
        {
            QuickRounds.Short = wasShort;
        }
    }

    /// <summary>Runs one set, printing its output; its figures, or <see langword="null"/> when it failed (said so).</summary>
    private static async Task<List<Figure>?> MeasureAsync(IQuickSet set, TextWriter output)
    {
        using var captured = new StringWriter(CultureInfo.InvariantCulture);
        int status = await set.RunAsync(captured);
        string text = captured.ToString();
        await output.WriteAsync(text);
        await output.WriteLineAsync();
        if (status != 0)
        {
            await output.WriteLineAsync($"gate: quick {set.Name} exited {status}.");
            return null;
        }

        return [.. ReadFigures(text.Split('\n'))];
    }

    /// <summary>The figures of the JSON lines among <paramref name="lines"/> (<c>{"benchmark", "baseline", "ratio", ...}</c>).</summary>
    public static IEnumerable<Figure> ReadFigures(IEnumerable<string> lines)
    {
        foreach (var line in lines.Select(l => l.Trim()).Where(l => l.StartsWith("{\"benchmark\"", StringComparison.Ordinal)))
        {
            using var document = JsonDocument.Parse(line);
            var root = document.RootElement;
            yield return new Figure(root.GetProperty("benchmark").GetString()!, root.GetProperty("baseline").GetString()!, root.GetProperty("ratio").GetDouble());
        }
    }

    /// <summary>One verdict per target: passed, failed (above <see cref="Margin"/> times it), or skipped (not measured).</summary>
    public static List<Verdict> Judge(IReadOnlyCollection<Figure> figures)
        => [.. Targets.Select(target =>
            figures.FirstOrDefault(f => f.Benchmark == target.Benchmark && f.Baseline == target.Baseline) is { } figure
                ? new Verdict(target, figure.Ratio, figure.Ratio > target.Ratio * Margin ? Outcome.Failed : Outcome.Passed)
                : new Verdict(target, null, Outcome.Skipped))];

    /// <summary>A target: <see cref="Benchmark"/>'s ratio against <see cref="Baseline"/> at most <see cref="Ratio"/>.</summary>
    public sealed record Target(string Benchmark, string Baseline, double Ratio);

    /// <summary>A measured ratio, from a JSON line.</summary>
    public sealed record Figure(string Benchmark, string Baseline, double Ratio);

    public enum Outcome
    {
        Passed,
        Failed,
        Skipped,
    }

    public sealed record Verdict(Target Target, double? Ratio, Outcome Outcome)
    {
        public override string ToString()
        {
            string name = $"{Target.Benchmark} / {Target.Baseline}";
            string limit = string.Create(CultureInfo.InvariantCulture, $"target {Target.Ratio:F2}, fails above {Target.Ratio * Margin:F2}");
            return Outcome switch
            {
                Outcome.Skipped => $"gate: {name,-40} skipped: baseline not measured ({limit})",
                _ => string.Create(CultureInfo.InvariantCulture, $"gate: {name,-40} {Ratio,5:F2} {(Outcome == Outcome.Failed ? "FAILED" : "ok")} ({limit})"),
            };
        }
    }
}
