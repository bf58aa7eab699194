using System.Diagnostics;
using Lifeguard.Python;
using static Lifeguard.Benchmarks.QuickRounds;

namespace Lifeguard.Benchmarks;

/// <summary>
/// <c>quick python</c>: the Python scenarios, each subject measured side by side with its baselines in
/// interleaved rounds (the order rotates every round, so drift on a noisy machine hits every contender alike),
/// reported as medians. The .NET-side contenders are timed here; the stdlib pools (<c>multiprocessing-apply</c>,
/// <c>processpool-submit</c>, <c>processpool-2</c>) by <c>python/stdlib_driver.py</c> inside Python, one round per
/// command, in the same rotation. Measures for about a minute.
/// </summary>
internal sealed class PythonQuickSet : IQuickSet
{
    private const string Subject = "lifeguard";
    private const string DashboardSubject = "dashboard";
    private const string PipeFloor = "pipe-floor";
    private const string FrameFloorName = "frame-floor";
    private const string BurstForkServer = "fork-server";
    private const string BareOne = "bare-1";
    private const string BareTwo = "bare-2";
    private const string EmbeddedPythonBaseline = "pythonnet";
    private const string EmbeddedPython2Threads = "pythonnet-2threads";
    private const int RoundtripCallsPerSample = 300;
    private const int BytesCallsPerSample = 15;
    private const int RoundtripCallsPerAllocationSample = 3000;
    private const int BytesCallsPerAllocationSample = 40;
    private const int Bytes16CallsPerSample = 5;
    private const int Bytes16CallsPerAllocationSample = 10;
    private static readonly Budget RoundtripBudget = new(WarmupRounds: 3, MaxRounds: 41, TimeSpan.FromSeconds(12));

    // Two fast contenders: more rounds than python.roundtrip, so that the rounds span dozens of the sampler's ticks.
    // At least a second of rounds, so that they span the sampler's ticks (every 250 ms) even in short rounds on a
    // fast machine: the scenario checks that the client read a snapshot during them.
    private static readonly Budget DashboardBudget = new(WarmupRounds: 3, MaxRounds: 401, TimeSpan.FromSeconds(10), MinTime: TimeSpan.FromSeconds(1));
    private static readonly Budget ScalingBudget = new(WarmupRounds: 1, MaxRounds: 31, TimeSpan.FromSeconds(18));
    private static readonly Budget BytesBudget = new(WarmupRounds: 3, MaxRounds: 41, TimeSpan.FromSeconds(8));
    private static readonly Budget Bytes16Budget = new(WarmupRounds: 2, MaxRounds: 41, TimeSpan.FromSeconds(12));
    private static readonly Budget Start4Budget = new(WarmupRounds: 1, MaxRounds: 41, TimeSpan.FromSeconds(12));
    private static readonly Budget StreamBudget = new(WarmupRounds: 2, MaxRounds: 41, TimeSpan.FromSeconds(12));
    private static readonly Budget BurstBudget = new(WarmupRounds: 1, MaxRounds: 21, TimeSpan.FromSeconds(15));

    // A spawned replacement costs the interpreter and the 300 ms import: few rounds fill the time.
    private static readonly Budget ReplaceBudget = new(WarmupRounds: 1, MaxRounds: 31, TimeSpan.FromSeconds(15));

    public string Name => "python";

    public string Description => "python.roundtrip, .roundtrip.dashboard, .scaling, .bytes1mib, .bytes16mib, .start4, .start4.fork, .replace, .burst, .stream and .generated vs pipe, stdlib-pool, pythonnet, no-dashboard, bare-interpreter, spawn, no-overflow, calls and by-name baselines";

    /// <summary>
    /// Only the round trip, the scaling and the start scenarios can be picked
    /// (<c>quick python python.roundtrip,python.scaling</c>); any other name runs the whole set.
    /// </summary>
    public async Task<int> RunAsync(TextWriter output, IReadOnlySet<string> only)
    {
        string[] pickable = [PythonRoundtripBenchmarks.Name, PythonScalingBenchmarks.Name, PythonStart4Benchmarks.Name, PythonStart4Benchmarks.ForkName, PythonReplaceBenchmarks.Name];
        if (!only.All(pickable.Contains))
        {
            return await RunAsync(output);
        }

        var total = Stopwatch.StartNew();
        string loadBefore = LoadAverage();
        var scenarios = new List<Scenario>();
        var notes = new List<string>();
        if (only.Contains(PythonRoundtripBenchmarks.Name) || only.Contains(PythonScalingBenchmarks.Name))
        {
            var (embedded, skipped) = await EmbeddedPython.StartAsync();
            if (skipped is not null)
            {
                notes.Add(Invariant($"{EmbeddedPythonBaseline} and {EmbeddedPython2Threads}: skipped: {skipped}."));
            }

            if (only.Contains(PythonRoundtripBenchmarks.Name))
            {
                var roundtrip = await RunRoundtripAsync(embedded);
                scenarios.Add(roundtrip);
                notes.Add(RoundtripSplit(roundtrip));
            }

            if (only.Contains(PythonScalingBenchmarks.Name))
            {
                var (scaling, _) = await RunScalingAsync(embedded);
                scenarios.Add(scaling);
                notes.Add(ScalingFloor(scaling));
            }
        }

        if (only.Contains(PythonStart4Benchmarks.Name))
        {
            scenarios.Add(await RunStart4Async());
        }

        if (only.Contains(PythonStart4Benchmarks.ForkName))
        {
            scenarios.Add(await RunStart4ForkAsync());
        }

        if (only.Contains(PythonReplaceBenchmarks.Name))
        {
            scenarios.Add(await RunReplaceAsync());
        }

        await output.WriteLineAsync(Invariant(
            $"quick python {string.Join(',', only)}: {Environment.ProcessorCount} cores, {total.Elapsed.TotalSeconds:F1} s, medians of interleaved rounds; load average {loadBefore} before, {LoadAverage()} after"));
        await output.WriteLineAsync();
        await WriteTableAsync(output, scenarios);
        await output.WriteLineAsync();
        foreach (var note in notes)
        {
            await output.WriteLineAsync(note);
        }

        if (only.Contains(PythonStart4Benchmarks.Name) || only.Contains(PythonStart4Benchmarks.ForkName) || only.Contains(PythonReplaceBenchmarks.Name))
        {
            await WriteStartNotesAsync(output);
        }

        await output.WriteLineAsync();
        await WriteJsonAsync(output, scenarios);
        await output.FlushAsync();
        return 0;
    }

    /// <summary>The round trip's time split: the worker runtime's part and the host's.</summary>
    private static string RoundtripSplit(Scenario roundtrip)
        => Invariant(
            $"{PythonRoundtripBenchmarks.Name}: {FrameFloorName} (a reference: Lifeguard's worker runtime driven by a minimal host, one fixed call frame) - {PipeFloor} = {roundtrip.PairedDifference(FrameFloorName, PipeFloor) / 1000:F1} µs, the worker runtime and frame layout's part; lifeguard - {FrameFloorName} = {roundtrip.PairedDifference(Subject, FrameFloorName) / 1000:F1} µs, the host's part (medians of the per-round differences).");

    /// <summary>The machine's own floor for two processes against one, beside the subject.</summary>
    private static string ScalingFloor(Scenario scaling)
        => Invariant(
            $"{PythonScalingBenchmarks.Name}: {BareTwo} / {BareOne} = {scaling.PairedRatio(BareTwo, BareOne):F3} (references: the same calls burned in a loop by two bare processes against one, no call crossing a process boundary: the least any pool of 2 can reach on this machine); lifeguard / {BareTwo} = {scaling.PairedRatio(BareTwo):F3} (paired ratios).");

    public async Task<int> RunAsync(TextWriter output)
    {
        var total = Stopwatch.StartNew();
        string loadBefore = LoadAverage();
        var (embedded, skipped) = await EmbeddedPython.StartAsync();
        var roundtrip = await RunRoundtripAsync(embedded);
        var (dashboard, watched) = await RunDashboardAsync();
        var (scaling, iterations) = await RunScalingAsync(embedded);
        var bytes = await RunBytesAsync(
            new PythonBytes1MiBBenchmarks(), PythonBytes1MiBBenchmarks.Name, BytesBudget, BytesCallsPerSample, BytesCallsPerAllocationSample, copying: false);
        var bytes16 = await RunBytesAsync(
            new PythonBytes16MiBBenchmarks(), PythonBytes16MiBBenchmarks.Name, Bytes16Budget, Bytes16CallsPerSample, Bytes16CallsPerAllocationSample, copying: true);
        var start4 = await RunStart4Async();
        var start4Fork = await RunStart4ForkAsync();
        var replace = await RunReplaceAsync();
        var (burst, burstStarts) = await RunBurstAsync();
        var stream = await RunStreamAsync();
        var generated = await RunGeneratedAsync();
        total.Stop();

        Scenario[] scenarios = [roundtrip, dashboard, scaling, bytes, bytes16, start4, start4Fork, replace, burst, stream, generated];
        await output.WriteLineAsync(Invariant(
            $"quick python: {Environment.ProcessorCount} cores, {total.Elapsed.TotalSeconds:F1} s, medians of interleaved rounds; load average {loadBefore} before, {LoadAverage()} after"));
        await output.WriteLineAsync(Invariant($"interpreter: {await PythonBench.InterpreterAsync()}"));
        await output.WriteLineAsync();
        await WriteTableAsync(output, scenarios);

        await output.WriteLineAsync();
        await output.WriteLineAsync("ratio = the subject's median (the first row of a scenario) / this baseline's median (lower is better); paired = median of the per-round ratios;");
        await output.WriteLineAsync("alloc/call = .NET bytes allocated per call, process-wide (the stdlib baselines run in Python).");
        await output.WriteLineAsync(Invariant(
            $"{PythonRoundtripBenchmarks.Name}: per call, median of {RoundtripCallsPerSample} sequential calls of square(7) per round, pool of 1; stdlib baselines timed inside Python; pythonnet = square(7) on CPython embedded in this process, under the GIL."));
        await output.WriteLineAsync(Invariant(
            $"{PythonDashboardBenchmarks.Name}: as {PythonRoundtripBenchmarks.Name}, dashboard = pool of 1 shown by MapLifeguardDashboard to one client reading {PythonDashboardBenchmarks.Prefix}/events, no-dashboard = pool of 1 on an unwatched meter; the client read {watched.Snapshots} snapshot events ({Size(watched.Bytes)}) during the rounds."));
        await output.WriteLineAsync(Invariant(
            $"{PythonScalingBenchmarks.Name}: per call, {PythonScalingBenchmarks.CallsPerInvoke} calls of burn({iterations}) (~2 ms) per round from {PythonScalingBenchmarks.Callers} callers; lifeguard = pool of 2; pythonnet-2threads = two threads of this process calling the embedded burn, each taking the GIL per call."));
        await output.WriteLineAsync(ScalingFloor(scaling));
        await output.WriteLineAsync(RoundtripSplit(roundtrip));
        if (skipped is not null)
        {
            await output.WriteLineAsync(Invariant($"{EmbeddedPythonBaseline} and {EmbeddedPython2Threads}: skipped: {skipped}."));
        }
        await output.WriteLineAsync(Invariant(
            $"{PythonBytes1MiBBenchmarks.Name}: per echo of 1 MiB, median of {BytesCallsPerSample} per round."));
        await output.WriteLineAsync(Invariant(
            $"{PythonBytes16MiBBenchmarks.Name}: per echo of 16 MiB, median of {Bytes16CallsPerSample} per round; lifeguard = echo_view (a memoryview in, the same view out), echo-bytes = echo (bytes in, bytes out)."));
        await WriteStartNotesAsync(output);
        await output.WriteLineAsync(Invariant(
            $"{PythonBurstBenchmarks.Name}: per call, {PythonBurstBenchmarks.Calls} calls of square(7) from {PythonBurstBenchmarks.Callers} callers on a fresh pool, one burst per round; lifeguard = Size 2 + MaxOverflow 1, no-overflow = Size 2, {BurstForkServer} (a reference) = Size 2 + MaxOverflow 1 with StartMode ForkServer, whose overflow worker is a fork: {BurstForkServer} / no-overflow = {burst.PairedRatio(BurstForkServer, "no-overflow"):F2} (paired)."));
        await output.WriteLineAsync(Invariant(
            $"{PythonBurstBenchmarks.Name} starts per pool (the fill's included), median [min, max]: {string.Join("; ", burstStarts.Select(s => $"{s.Key} {Statistics.Median(s.Value):F0} [{s.Value.Min():F0}, {s.Value.Max():F0}]"))}."));
        await output.WriteLineAsync(Invariant(
            $"{PythonStreamBenchmarks.Name}: per item, one generator yielding {PythonStreamBenchmarks.Items} small ints per round (StreamAsync, default window 16) vs calls = {PythonStreamBenchmarks.Items} sequential calls of square(7), and window-256 = the same stream with StreamWindow 256; pool of 1."));
        await output.WriteLineAsync(Invariant(
            $"{PythonGeneratedBenchmarks.Name}: per call, median of {RoundtripCallsPerSample} sequential calls of square(7) per round through the generated Benchmod.SquareAsync vs by-name = CallAsync<long>(\"benchmod\", \"square\", [7]); pool of 1."));
        await output.WriteLineAsync();

        await WriteJsonAsync(output, scenarios);

        await output.FlushAsync();
        return 0;
    }

    private static async Task<Scenario> RunRoundtripAsync(EmbeddedPython? embedded)
    {
        var bench = new PythonRoundtripBenchmarks();
        await using var apply = await StdlibDriver.StartAsync("apply");
        await using var submit = await StdlibDriver.StartAsync("submit");
        await using var frameFloor = await FrameFloor.StartAsync();
        try
        {
            await bench.SetupAsync();
            List<Competitor> contenders =
            [
                new(Subject, () => bench.MedianNsAsync(lifeguard: true, RoundtripCallsPerSample)),
                new(PipeFloor, () => bench.MedianNsAsync(lifeguard: false, RoundtripCallsPerSample)),
                new(FrameFloorName, () => frameFloor.MedianNsAsync(RoundtripCallsPerSample)),
                new("multiprocessing-apply", () => apply.MedianRoundTripNsAsync(RoundtripCallsPerSample, PythonRoundtripBenchmarks.Argument)),
                new("processpool-submit", () => submit.MedianRoundTripNsAsync(RoundtripCallsPerSample, PythonRoundtripBenchmarks.Argument)),
            ];
            if (embedded is not null)
            {
                contenders.Add(new(EmbeddedPythonBaseline, () => Task.FromResult(embedded.MedianSquareNs(RoundtripCallsPerSample, PythonRoundtripBenchmarks.Argument))));
            }

            var scenario = await InterleaveAsync(PythonRoundtripBenchmarks.Name, RoundtripBudget, [.. contenders]);
            scenario.References.Add(FrameFloorName);
            await MeasureBytesAsync(scenario, PipeFloor, lifeguard => bench.BytesPerCallAsync(lifeguard, RoundtripCallsPerAllocationSample));
            return scenario;
        }
        finally
        {
            await bench.CleanupAsync();
        }
    }

    /// <summary>
    /// <c>python.roundtrip.dashboard</c>: the client reads the event stream for the whole scenario; fails unless it
    /// read at least one snapshot event between the first round and the last, and its stream is still open.
    /// </summary>
    private static async Task<(Scenario Scenario, (long Snapshots, long Bytes) Watched)> RunDashboardAsync()
    {
        var bench = new PythonDashboardBenchmarks();
        try
        {
            await bench.SetupAsync();
            long snapshots = bench.SnapshotsReceived;
            long bytes = bench.BytesReceived;
            var scenario = await InterleaveAsync(
                PythonDashboardBenchmarks.Name,
                DashboardBudget,
                new Competitor(DashboardSubject, () => bench.MedianNsAsync(dashboard: true, RoundtripCallsPerSample)),
                new Competitor("no-dashboard", () => bench.MedianNsAsync(dashboard: false, RoundtripCallsPerSample)));
            bench.EnsureWatched();
            snapshots = bench.SnapshotsReceived - snapshots;
            bytes = bench.BytesReceived - bytes;
            if (snapshots < 1)
            {
                throw new InvalidOperationException($"{PythonDashboardBenchmarks.Name}: the client read no snapshot event during the rounds.");
            }

            await MeasureBytesAsync(scenario, "no-dashboard", dashboard => bench.BytesPerCallAsync(dashboard, RoundtripCallsPerAllocationSample));
            return (scenario, (snapshots, bytes));
        }
        finally
        {
            await bench.CleanupAsync();
        }
    }

    private static async Task<(Scenario Scenario, int Iterations)> RunScalingAsync(EmbeddedPython? embedded)
    {
        var bench = new PythonScalingBenchmarks();
        await using var pool2 = await StdlibDriver.StartAsync("pool2");
        await using var bare1 = await StdlibDriver.StartAsync("bare1");
        await using var bare2 = await StdlibDriver.StartAsync("bare2");
        try
        {
            await bench.SetupAsync(calibrate: true);
            List<Competitor> contenders =
            [
                new(Subject, () => bench.PerCallNsAsync(twoWorkers: true)),
                new("one-worker", () => bench.PerCallNsAsync(twoWorkers: false)),
                new("processpool-2", () => pool2.PerCallNsAsync(PythonScalingBenchmarks.CallsPerInvoke, bench.Iterations)),
                new(BareTwo, () => bare2.PerCallNsAsync(PythonScalingBenchmarks.CallsPerInvoke, bench.Iterations)),
                new(BareOne, () => bare1.PerCallNsAsync(PythonScalingBenchmarks.CallsPerInvoke, bench.Iterations)),
            ];
            if (embedded is not null)
            {
                contenders.Add(new(EmbeddedPython2Threads, () => Task.FromResult(embedded.BurnPerCallNs(threads: 2, PythonScalingBenchmarks.CallsPerInvoke, bench.Iterations))));
            }

            var scenario = await InterleaveAsync(PythonScalingBenchmarks.Name, ScalingBudget, [.. contenders]);
            scenario.References.Add(BareTwo);
            scenario.References.Add(BareOne);
            return (scenario, bench.Iterations);
        }
        finally
        {
            await bench.CleanupAsync();
        }
    }

    /// <summary>
    /// A bytes echo against <c>raw-pipe</c>; with <paramref name="copying"/>, also <c>echo-bytes</c>, the echo through
    /// a function that takes bytes.
    /// </summary>
    private static async Task<Scenario> RunBytesAsync(PythonBytesEcho bench, string name, Budget budget, int calls, int allocationCalls, bool copying)
    {
        try
        {
            await bench.SetupAsync();
            List<Competitor> competitors =
            [
                new(Subject, () => bench.MedianNsAsync(lifeguard: true, calls)),
                new("raw-pipe", () => bench.MedianNsAsync(lifeguard: false, calls)),
            ];
            if (copying)
            {
                competitors.Add(new("echo-bytes", () => bench.MedianCopyingNsAsync(calls)));
            }

            var scenario = await InterleaveAsync(name, budget, [.. competitors]);
            await MeasureBytesAsync(scenario, "raw-pipe", lifeguard => bench.BytesPerCallAsync(lifeguard, allocationCalls));
            return scenario;
        }
        finally
        {
            await bench.CleanupAsync();
        }
    }

    private static async Task WriteStartNotesAsync(TextWriter output)
    {
        await output.WriteLineAsync(Invariant(
            $"{PythonStart4Benchmarks.Name}: StartAsync(Size {PythonStart4Benchmarks.Workers}) until ready vs {PythonStart4Benchmarks.Workers} x `python -c pass` until exited, one start per round."));
        await output.WriteLineAsync(Invariant(
            $"{PythonStart4Benchmarks.ForkName}: the same start with StartMode ForkServer (its template's start included) vs spawn = StartMode Spawn, one start per round."));
        await output.WriteLineAsync(Invariant(
            $"{PythonReplaceBenchmarks.Name}: from a worker's SIGKILL until its replacement is ready, pool of 1 preloading {PythonReplaceBenchmarks.SlowModule} (300 ms of CPU at import); lifeguard = ForkServer, spawn = Spawn; one replacement per round."));
    }

    private static async Task<Scenario> RunStart4ForkAsync()
    {
        var bench = new PythonStart4Benchmarks();
        try
        {
            await bench.SetupAsync();
            await bench.ForkStartNsAsync();
            return await InterleaveAsync(
                PythonStart4Benchmarks.ForkName,
                Start4Budget,
                new Competitor(Subject, bench.ForkStartNsAsync),
                new Competitor("spawn", () => bench.StartNsAsync(lifeguard: true)));
        }
        finally
        {
            await bench.StopStartedAsync();
        }
    }

    private static async Task<Scenario> RunReplaceAsync()
    {
        var bench = new PythonReplaceBenchmarks();
        try
        {
            await bench.SetupAsync();
            return await InterleaveAsync(
                PythonReplaceBenchmarks.Name,
                ReplaceBudget,
                new Competitor(Subject, () => bench.ReplaceNsAsync(forkServer: true)),
                new Competitor("spawn", () => bench.ReplaceNsAsync(forkServer: false)));
        }
        finally
        {
            await bench.CleanupAsync();
        }
    }

    private static async Task<Scenario> RunStart4Async()
    {
        var bench = new PythonStart4Benchmarks();
        try
        {
            await bench.SetupAsync();
            return await InterleaveAsync(
                PythonStart4Benchmarks.Name,
                Start4Budget,
                new Competitor(Subject, () => bench.StartNsAsync(lifeguard: true)),
                new Competitor("four-bare-starts", () => bench.StartNsAsync(lifeguard: false)));
        }
        finally
        {
            await bench.StopStartedAsync();
        }
    }

    private static async Task<(Scenario Scenario, Dictionary<string, List<double>> Starts)> RunBurstAsync()
    {
        var bench = new PythonBurstBenchmarks();
        var starts = new Dictionary<string, List<double>>(StringComparer.Ordinal) { [Subject] = [], ["no-overflow"] = [], [BurstForkServer] = [] };
        async Task<double> Burst(string name, bool overflow, PythonStartMode mode = PythonStartMode.Spawn)
        {
            double ns = await bench.PerCallNsAsync(overflow, mode);
            starts[name].Add(bench.LastStarts);
            return ns;
        }

        var scenario = await InterleaveAsync(
            PythonBurstBenchmarks.Name,
            BurstBudget,
            new Competitor(Subject, () => Burst(Subject, overflow: true)),
            new Competitor("no-overflow", () => Burst("no-overflow", overflow: false)),
            new Competitor(BurstForkServer, () => Burst(BurstForkServer, overflow: true, PythonStartMode.ForkServer)));
        scenario.References.Add(BurstForkServer);
        return (scenario, starts);
    }

    private static async Task<Scenario> RunStreamAsync()
    {
        var bench = new PythonStreamBenchmarks();
        try
        {
            await bench.SetupAsync();
            return await InterleaveAsync(
                PythonStreamBenchmarks.Name,
                StreamBudget,
                new Competitor(Subject, () => bench.PerItemNsAsync(stream: true)),
                new Competitor("calls", () => bench.PerItemNsAsync(stream: false)),
                new Competitor("window-256", () => bench.PerItemNsAsync(stream: true, window: 256)));
        }
        finally
        {
            await bench.CleanupAsync();
        }
    }

    private static async Task<Scenario> RunGeneratedAsync()
    {
        var bench = new PythonGeneratedBenchmarks();
        try
        {
            await bench.SetupAsync();
            var scenario = await InterleaveAsync(
                PythonGeneratedBenchmarks.Name,
                RoundtripBudget,
                new Competitor(Subject, () => bench.MedianNsAsync(generated: true, RoundtripCallsPerSample)),
                new Competitor("by-name", () => bench.MedianNsAsync(generated: false, RoundtripCallsPerSample)));
            await MeasureBytesAsync(scenario, "by-name", generated => bench.BytesPerCallAsync(generated, RoundtripCallsPerAllocationSample));
            return scenario;
        }
        finally
        {
            await bench.CleanupAsync();
        }
    }
}
