using System.Diagnostics;
using System.Globalization;

namespace Lifeguard.Benchmarks;

/// <summary>
/// What the quick sets of paired rounds share (<c>quick python</c>, <c>quick cluster</c>): interleaved rounds whose
/// order rotates, one sample per contender per round, medians and ratios, the table rows and the JSON lines.
/// </summary>
internal static class QuickRounds
{
    public const int MinRounds = 5;

    /// <summary>The most rounds a scenario runs in short mode.</summary>
    public const int ShortMaxRounds = 9;

    /// <summary>
    /// Short mode (<c>quick &lt;set&gt; --short</c>, the CI gate's): every scenario runs at most
    /// <see cref="ShortMaxRounds"/> rounds (still at least <see cref="MinRounds"/>) within a quarter of its time.
    /// </summary>
    public static bool Short { get; set; }

    /// <summary>A scenario's most rounds, capped in short mode.</summary>
    public static int MaxRoundsFor(int maxRounds) => Short ? Math.Min(maxRounds, ShortMaxRounds) : maxRounds;

    /// <summary>A scenario's time budget, a quarter of it in short mode.</summary>
    public static TimeSpan TimeFor(TimeSpan time) => Short ? time / 4 : time;

    /// <summary>
    /// Warm-up rounds (discarded), then rounds of one sample per contender, the order rotating every round, until
    /// the budget is spent (at least <see cref="MinRounds"/>, at most the budget's maximum).
    /// </summary>
    public static Task<Scenario> InterleaveAsync(string benchmark, Budget budget, params Competitor[] contenders)
        => InterleaveAsync(benchmark, budget, contenders, CancellationToken.None);

    /// <summary>As the overload without a token; <paramref name="cancellationToken"/> is checked between samples.</summary>
    public static async Task<Scenario> InterleaveAsync(string benchmark, Budget budget, Competitor[] contenders, CancellationToken cancellationToken)
    {
        for (var round = 0; round < budget.WarmupRounds; round++)
        {
            foreach (var contender in contenders)
            {
                cancellationToken.ThrowIfCancellationRequested();
                await contender.Measure();
            }
        }

        var scenario = new Scenario(benchmark, contenders.Select(c => c.Name).ToArray());
        var clock = Stopwatch.StartNew();
        int maxRounds = MaxRoundsFor(budget.MaxRounds);
        var time = TimeFor(budget.Time);
        for (var round = 0; (round < maxRounds && (round < MinRounds || clock.Elapsed < time)) || clock.Elapsed < budget.MinTime; round++)
        {
            for (var k = 0; k < contenders.Length; k++)
            {
                cancellationToken.ThrowIfCancellationRequested();
                var contender = contenders[(round + k) % contenders.Length];
                scenario.Samples[contender.Name].Add(await contender.Measure());
            }
        }

        return scenario;
    }

    /// <summary>Process-wide bytes allocated per call by the subject and the .NET-side <paramref name="baseline"/>: median of three passes each.</summary>
    public static async Task MeasureBytesAsync(Scenario scenario, string baseline, Func<bool, Task<double>> bytesPerCall)
    {
        var subject = new List<double>();
        var other = new List<double>();
        for (var i = 0; i < 3; i++)
        {
            subject.Add(await bytesPerCall(true));
            other.Add(await bytesPerCall(false));
        }

        scenario.Bytes[scenario.Subject] = Statistics.Median(subject);
        scenario.Bytes[baseline] = Statistics.Median(other);
    }

    /// <summary>The table: a header, then one row per contender of each scenario, the subject first.</summary>
    public static async Task WriteTableAsync(TextWriter output, IEnumerable<Scenario> scenarios)
    {
        await output.WriteLineAsync(Invariant(
            $"{"scenario",-26} {"contender",-21} {"rounds",6} {"median µs",11} {"min µs",10} {"max µs",10} {"ratio",6} {"alloc/call",10}"));
        foreach (var scenario in scenarios)
        {
            await WriteRowsAsync(output, scenario);
        }
    }

    /// <summary>The JSON lines, last in a set's output: one per baseline of each scenario.</summary>
    public static async Task WriteJsonAsync(TextWriter output, IEnumerable<Scenario> scenarios)
    {
        foreach (var scenario in scenarios)
        {
            foreach (var baseline in scenario.Baselines)
            {
                await output.WriteLineAsync(Json(scenario, baseline));
            }
        }
    }

    private static async Task WriteRowsAsync(TextWriter output, Scenario scenario)
    {
        foreach (var name in scenario.Contenders)
        {
            var samples = scenario.Samples[name];
            bool subject = name == scenario.Subject || scenario.References.Contains(name);
            string ratio = subject ? "" : Invariant($"{scenario.Ratio(name):F2}");
            string paired = subject ? "" : Invariant($" (paired {scenario.PairedRatio(name):F2})");
            string allocated = scenario.Bytes.TryGetValue(name, out double bytes) ? Size(bytes) : "";
            await output.WriteLineAsync(Invariant(
                $"{scenario.Benchmark,-26} {name,-21} {samples.Count,6} {Statistics.Median(samples) / 1000,11:F1} {samples.Min() / 1000,10:F1} {samples.Max() / 1000,10:F1} {ratio,6} {allocated,10}{paired}"));
        }
    }

    private static string Json(Scenario scenario, string baseline)
    {
        double subjectNs = Statistics.Median(scenario.Samples[scenario.Subject]);
        double baselineNs = Statistics.Median(scenario.Samples[baseline]);
        return Invariant(
            $"{{\"benchmark\": \"{scenario.Benchmark}\", \"subject_ns\": {subjectNs:F1}, \"baseline\": \"{baseline}\", \"baseline_ns\": {baselineNs:F1}, \"ratio\": {subjectNs / baselineNs:F2}}}");
    }

    public static string Size(double bytes) => bytes < 10 * 1024 ? Invariant($"{bytes:F0} B") : Invariant($"{bytes / 1024:F0} KiB");

    public static string LoadAverage()
    {
        try
        {
            return string.Join(' ', File.ReadAllText("/proc/loadavg").Split(' ').Take(3));
        }
        catch (IOException)
        {
            return "n/a";
        }
    }

    public static string Invariant(FormattableString text) => text.ToString(CultureInfo.InvariantCulture);

    /// <summary>
    /// How many rounds a scenario runs: warm-up rounds, then up to <paramref name="MaxRounds"/> within
    /// <paramref name="Time"/>; and, short mode or not, rounds for at least <paramref name="MinTime"/> (a scenario
    /// whose check needs the rounds to span something periodic, such as the dashboard's sampler ticks).
    /// </summary>
    public sealed record Budget(int WarmupRounds, int MaxRounds, TimeSpan Time, TimeSpan MinTime = default);

    /// <summary>A named contender; <see cref="Measure"/> takes one sample in nanoseconds.</summary>
    public sealed record Competitor(string Name, Func<Task<double>> Measure);

    /// <summary>Samples per contender, in round order (sample i of every contender is from round i); the first contender is the subject.</summary>
    public sealed class Scenario(string benchmark, string[] contenders)
    {
        public string Benchmark { get; } = benchmark;

        public string[] Contenders { get; } = contenders;

        public string Subject => Contenders[0];

        /// <summary>The baselines, each compared with the subject in a JSON line: every contender after the first but the references.</summary>
        public IEnumerable<string> Baselines => Contenders.Skip(1).Where(c => !References.Contains(c));

        /// <summary>Contenders measured in the same rounds and shown in the table, without a ratio or a JSON line: a part of the subject's time, not a rival.</summary>
        public HashSet<string> References { get; } = new(StringComparer.Ordinal);

        /// <summary>Process-wide bytes allocated per call, for the contenders run in this process.</summary>
        public Dictionary<string, double> Bytes { get; } = new(StringComparer.Ordinal);

        public Dictionary<string, List<double>> Samples { get; } = contenders.ToDictionary(c => c, _ => new List<double>(), StringComparer.Ordinal);

        public double Ratio(string baseline) => Statistics.Median(Samples[Subject]) / Statistics.Median(Samples[baseline]);

        public double PairedRatio(string baseline) => PairedRatio(Subject, baseline);

        /// <summary>The median over the rounds of <paramref name="contender"/>'s sample over <paramref name="baseline"/>'s.</summary>
        public double PairedRatio(string contender, string baseline)
            => Statistics.Median([.. Samples[contender].Zip(Samples[baseline], (s, b) => s / b)]);

        /// <summary>The median over the rounds of <paramref name="contender"/>'s sample less <paramref name="other"/>'s, in ns.</summary>
        public double PairedDifference(string contender, string other)
            => Statistics.Median([.. Samples[contender].Zip(Samples[other], (a, b) => a - b)]);
    }
}
