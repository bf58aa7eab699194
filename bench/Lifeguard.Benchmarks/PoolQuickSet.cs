using System.Diagnostics;
using System.Globalization;

namespace Lifeguard.Benchmarks;

/// <summary>
/// <c>quick pool</c>: both pool scenarios, subject and baselines measured side by side in interleaved rounds (the
/// order rotates every round, so drift on a noisy machine hits every contender alike), reported as medians.
/// Measures for about 15–20 seconds, so <c>dotnet run</c> including a build stays under a minute.
/// </summary>
internal sealed class PoolQuickSet : IQuickSet
{
    private const int UncontendedPairsPerSample = 400_000;
    private const int UncontendedMaxRounds = 61;
    private const int ContendedInvocationsPerSample = 4;
    private const int ContendedMaxRounds = 41;
    private const int MinRounds = 5;
    private static readonly TimeSpan WarmupPerContender = TimeSpan.FromMilliseconds(400);
    private static readonly TimeSpan UncontendedBudget = TimeSpan.FromSeconds(6);
    private static readonly TimeSpan ContendedBudget = TimeSpan.FromSeconds(8);
    private static readonly Contender[] All = [Contender.Lifeguard, Contender.ObjectPool, Contender.SemaphoreBag, Contender.ChannelPool];
    private static readonly Contender[] Baselines = [Contender.ObjectPool, Contender.SemaphoreBag, Contender.ChannelPool];

    public string Name => "pool";

    public string Description => "pool.uncontended and pool.contended64on8 vs objectpool, semaphore-bag and channel-pool";

    public async Task<int> RunAsync(TextWriter output)
    {
        var total = Stopwatch.StartNew();
        var uncontended = RunUncontended(out var uncontendedBytes);
        var contended = await RunContendedAsync();
        total.Stop();

        await WriteTableAsync(output, uncontended, uncontendedBytes, contended, total.Elapsed);
        foreach (var baseline in Baselines)
        {
            await output.WriteLineAsync(Json(UncontendedBenchmarks.Name, uncontended.Samples, baseline));
        }

        foreach (var baseline in Baselines)
        {
            await output.WriteLineAsync(Json(Contended64On8Benchmarks.Name, contended.Samples, baseline));
        }

        await output.FlushAsync();
        return 0;
    }

    private static Run RunUncontended(out double bytesPerPair)
    {
        var bench = new UncontendedBenchmarks();
        bench.Setup();
        try
        {
            foreach (var contender in All)
            {
                var warmup = Stopwatch.StartNew();
                while (warmup.Elapsed < WarmupPerContender)
                {
                    bench.MeasureNsPerPair(contender, UncontendedPairsPerSample / 10);
                }
            }

            var run = new Run();
            var clock = Stopwatch.StartNew();
            int maxRounds = QuickRounds.MaxRoundsFor(UncontendedMaxRounds);
            var budget = QuickRounds.TimeFor(UncontendedBudget);
            for (var round = 0; round < maxRounds && (round < MinRounds || clock.Elapsed < budget); round++)
            {
                for (var k = 0; k < All.Length; k++)
                {
                    var contender = All[(round + k) % All.Length];
                    run.Add(contender, bench.MeasureNsPerPair(contender, UncontendedPairsPerSample));
                }
            }

            // Steady state: everything is warm; one more pass to make sure no lazy initialisation is counted.
            bench.MeasureLifeguardBytesPerPair(1000);
            bytesPerPair = bench.MeasureLifeguardBytesPerPair(UncontendedPairsPerSample);
            return run;
        }
        finally
        {
            bench.Cleanup();
        }
    }

    private static async Task<ContendedRun> RunContendedAsync()
    {
        var bench = new Contended64On8Benchmarks();
        bench.Setup();
        try
        {
            foreach (var contender in All)
            {
                var warmup = Stopwatch.StartNew();
                while (warmup.Elapsed < WarmupPerContender)
                {
                    await bench.MeasureNsPerPairAsync(contender, invocations: 1);
                }
            }

            var run = new ContendedRun();
            var clock = Stopwatch.StartNew();
            int maxRounds = QuickRounds.MaxRoundsFor(ContendedMaxRounds);
            var budget = QuickRounds.TimeFor(ContendedBudget);
            for (var round = 0; round < maxRounds && (round < MinRounds || clock.Elapsed < budget); round++)
            {
                for (var k = 0; k < All.Length; k++)
                {
                    var contender = All[(round + k) % All.Length];
                    run.Add(contender, await bench.MeasureNsPerPairAsync(contender, ContendedInvocationsPerSample));
                }
            }

            for (var i = 0; i < 3; i++)
            {
                run.HarnessBytes.Add(await bench.MeasureBytesPerPairAsync(contender: null));
                foreach (var contender in All)
                {
                    run.AddBytes(contender, await bench.MeasureBytesPerPairAsync(contender));
                }
            }

            return run;
        }
        finally
        {
            bench.Cleanup();
        }
    }

    private static async Task WriteTableAsync(TextWriter output, Run uncontended, double uncontendedBytes, ContendedRun contended, TimeSpan elapsed)
    {
        await output.WriteLineAsync(Invariant($"quick pool: {Environment.ProcessorCount} cores, {elapsed.TotalSeconds:F1} s, medians of interleaved rounds"));
        await output.WriteLineAsync();
        await output.WriteLineAsync(Invariant($"{"scenario",-20} {"contender",-14} {"rounds",6} {"median ns",10} {"min ns",9} {"max ns",9} {"ratio",6} {"B/pair",8}"));
        await WriteRowsAsync(output, UncontendedBenchmarks.Name, uncontended, c => c == Contender.Lifeguard ? uncontendedBytes : null);
        await WriteRowsAsync(output, Contended64On8Benchmarks.Name, contended, c => Statistics.Median(contended.Bytes(c)));
        await output.WriteLineAsync();
        await output.WriteLineAsync(Invariant($"ratio = lifeguard median / this baseline's median; paired = median of the per-round ratios."));
        await output.WriteLineAsync(Invariant($"{UncontendedBenchmarks.Name}: lifeguard allocates {uncontendedBytes:F2} B/pair on the calling thread (steady state)."));
        double harness = Statistics.Median(contended.HarnessBytes);
        double subject = Statistics.Median(contended.Bytes(Contender.Lifeguard));
        await output.WriteLineAsync(Invariant(
            $"{Contended64On8Benchmarks.Name}: lifeguard allocates {subject:F2} B/pair process-wide; the harness alone (Task.Run x{Contended64On8Benchmarks.Callers}, yields) {harness:F2}; net {subject - harness:F2} B/pair."));
        await output.WriteLineAsync(Invariant(
            $"{Contended64On8Benchmarks.Name}: objectpool does not bound concurrency (it constructs extra workers for the 64 holders); semaphore-bag and channel-pool are the meaningful baselines."));
        await output.WriteLineAsync();
    }

    private static async Task WriteRowsAsync(TextWriter output, string scenario, Run run, Func<Contender, double?> bytes)
    {
        double subject = Statistics.Median(run.Samples[Contender.Lifeguard]);
        foreach (var contender in All)
        {
            var samples = run.Samples[contender];
            double median = Statistics.Median(samples);
            string ratio = contender == Contender.Lifeguard ? "" : Invariant($"{subject / median:F2}");
            string paired = contender == Contender.Lifeguard ? "" : Invariant($" (paired {run.PairedRatio(contender):F2})");
            string allocated = bytes(contender) is { } b ? Invariant($"{b:F2}") : "";
            await output.WriteLineAsync(Invariant(
                $"{scenario,-20} {Contenders.BaselineName(contender),-14} {samples.Count,6} {median,10:F1} {samples.Min(),9:F1} {samples.Max(),9:F1} {ratio,6} {allocated,8}{paired}"));
        }
    }

    private static string Json(string benchmark, Dictionary<Contender, List<double>> samples, Contender baseline)
    {
        double subjectNs = Statistics.Median(samples[Contender.Lifeguard]);
        double baselineNs = Statistics.Median(samples[baseline]);
        return Invariant(
            $"{{\"benchmark\": \"{benchmark}\", \"subject_ns\": {subjectNs:F1}, \"baseline\": \"{Contenders.BaselineName(baseline)}\", \"baseline_ns\": {baselineNs:F1}, \"ratio\": {subjectNs / baselineNs:F2}}}");
    }

    private static string Invariant(FormattableString text) => text.ToString(CultureInfo.InvariantCulture);

    /// <summary>Timing samples per contender, in round order (sample i of every contender is from round i).</summary>
    private class Run
    {
        public Dictionary<Contender, List<double>> Samples { get; } = All.ToDictionary(c => c, _ => new List<double>());

        public void Add(Contender contender, double nanoseconds) => Samples[contender].Add(nanoseconds);

        public double PairedRatio(Contender baseline)
        {
            var subject = Samples[Contender.Lifeguard];
            var other = Samples[baseline];
            return Statistics.Median([.. subject.Zip(other, (s, b) => s / b)]);
        }
    }

    private sealed class ContendedRun : Run
    {
        private readonly Dictionary<Contender, List<double>> _bytes = All.ToDictionary(c => c, _ => new List<double>());

        public List<double> HarnessBytes { get; } = [];

        public List<double> Bytes(Contender contender) => _bytes[contender];

        public void AddBytes(Contender contender, double bytesPerPair) => _bytes[contender].Add(bytesPerPair);
    }
}
