using System.Diagnostics;
using System.Runtime.InteropServices;
using Lifeguard.RabbitMQ;
using static Lifeguard.Benchmarks.QuickRounds;

namespace Lifeguard.Benchmarks;

/// <summary>
/// <c>quick cluster</c>: the remote-pool scenarios on a RabbitMQ node this set starts for itself (eng/rabbitmq.sh, in
/// <c>artifacts/rabbitmq/bench-PID</c>) and stops at the end, after a failure or on the first SIGINT or SIGTERM too
/// (a second one ends the process at once; the next start beside that folder stops the node it left). Subject and
/// baseline run in interleaved rounds whose order rotates, reported as medians. Measures for about a minute.
/// </summary>
internal sealed class ClusterQuickSet : IQuickSet
{
    private const string Subject = "lifeguard";
    private const string RawRpcName = "raw-rpc";
    private const string OneHostName = "one-host";
    private const string PythonCallName = "python-call";
    private const int RoundtripCallsPerSample = 50;
    private const int RoundtripCallsPerAllocationSample = 500;
    private static readonly Budget RoundtripBudget = new(WarmupRounds: 3, MaxRounds: 41, TimeSpan.FromSeconds(12));
    private static readonly Budget ScalingBudget = new(WarmupRounds: 1, MaxRounds: 15, TimeSpan.FromSeconds(30));

    public string Name => "cluster";

    public string Description => "cluster.roundtrip and cluster.scaling vs raw-rpc and one-host, on a RabbitMQ node of their own";

    public async Task<int> RunAsync(TextWriter output)
    {
        using var interrupted = new CancellationTokenSource();
        void OnSignal(PosixSignalContext context)
        {
            // The first signal stops the rounds and cleans up; a second one is left to end the process.
            if (!interrupted.IsCancellationRequested)
            {
                context.Cancel = true;
                interrupted.Cancel();
            }
        }

        using var sigint = PosixSignalRegistration.Create(PosixSignal.SIGINT, OnSignal);
        using var sigterm = PosixSignalRegistration.Create(PosixSignal.SIGTERM, OnSignal);
        try
        {
            return await RunOnBrokerAsync(output, interrupted.Token);
        }
        catch (OperationCanceledException) when (interrupted.IsCancellationRequested)
        {
            await output.WriteLineAsync("quick cluster: interrupted; the hosts, their pools and the broker were stopped.");
            return 130;
        }
    }

    private static async Task<int> RunOnBrokerAsync(TextWriter output, CancellationToken cancellationToken)
    {
        var total = Stopwatch.StartNew();
        string loadBefore = LoadAverage();
        await using var broker = await ClusterBench.StartBrokerAsync(cancellationToken);
        var roundtrip = await RunRoundtripAsync(broker.Uri, cancellationToken);
        var (scaling, served) = await RunScalingAsync(broker.Uri, cancellationToken);
        total.Stop();

        Scenario[] scenarios = [roundtrip, scaling];
        await output.WriteLineAsync(Invariant(
            $"quick cluster: {Environment.ProcessorCount} cores, {total.Elapsed.TotalSeconds:F1} s, medians of interleaved rounds; load average {loadBefore} before, {LoadAverage()} after"));
        await output.WriteLineAsync(Invariant(
            $"broker: a RabbitMQ node of eng/rabbitmq.sh on loopback, started in {broker.StartupTime.TotalSeconds:F1} s; interpreter: {await PythonBench.InterpreterAsync()}"));
        await output.WriteLineAsync();
        await WriteTableAsync(output, scenarios);
        await output.WriteLineAsync();
        await output.WriteLineAsync("ratio = the subject's median (the first row of a scenario) / this baseline's median (lower is better); paired = median of the per-round ratios;");
        await output.WriteLineAsync("alloc/call = .NET bytes allocated per call, process-wide: the caller's, the host's and the broker client's sides alike.");
        await output.WriteLineAsync(Invariant(
            $"{ClusterRoundtripBenchmarks.Name}: per call, median of {RoundtripCallsPerSample} sequential calls of square(7) per round; lifeguard = RemotePythonPool to a RabbitMqPoolHost of a pool of 1, raw-rpc = RabbitMQ.Client alone (quorum queue, confirms, manual acks, an echoing .NET consumer, direct reply-to)."));
        await output.WriteLineAsync(Invariant(
            $"{ClusterRoundtripBenchmarks.Name}: lifeguard - raw-rpc = {Difference(roundtrip, RawRpcName) / 1000:F1} µs per call (median of the per-round differences); python-call, the same call on the host's pool in this process (the Python hop inside every remote call: a reference, not a baseline) = {Statistics.Median(roundtrip.Samples[PythonCallName]) / 1000:F1} µs per call."));
        await output.WriteLineAsync(Invariant(
            $"{ClusterScalingBenchmarks.Name}: per call, {ClusterScalingBenchmarks.CallsPerInvoke} calls of nap({ClusterScalingBenchmarks.NapMs}) (a {ClusterScalingBenchmarks.NapMs} ms sleep) per round from {ClusterScalingBenchmarks.Callers} callers; lifeguard = {ClusterScalingBenchmarks.Hosts} hosts of {ClusterScalingBenchmarks.WorkersPerHost} workers, one-host = 1 host of {ClusterScalingBenchmarks.WorkersPerHost}, all in this process."));
        await output.WriteLineAsync(Invariant(
            $"{ClusterScalingBenchmarks.Name} calls served during the rounds, and peak busy, per host: {string.Join("; ", served.Select(h => $"{h.Host} {h.Served} (peak {h.PeakBusy})"))}."));
        await output.WriteLineAsync();
        await WriteJsonAsync(output, scenarios);
        await output.FlushAsync();
        return 0;
    }

    /// <summary>The median over the rounds of the subject's sample less <paramref name="baseline"/>'s, in ns.</summary>
    private static double Difference(Scenario scenario, string baseline) => scenario.PairedDifference(scenario.Subject, baseline);

    private static async Task<Scenario> RunRoundtripAsync(Uri broker, CancellationToken cancellationToken)
    {
        var bench = new ClusterRoundtripBenchmarks();
        try
        {
            await bench.SetupAsync(broker);
            var scenario = await InterleaveAsync(
                ClusterRoundtripBenchmarks.Name,
                RoundtripBudget,
                [
                    new Competitor(Subject, () => ClusterRoundtripBenchmarks.MedianNsAsync(bench.Lifeguard, RoundtripCallsPerSample)),
                    new Competitor(RawRpcName, () => ClusterRoundtripBenchmarks.MedianNsAsync(bench.RawRpcCall, RoundtripCallsPerSample)),
                    new Competitor(PythonCallName, () => ClusterRoundtripBenchmarks.MedianNsAsync(bench.PythonCall, RoundtripCallsPerSample)),
                ],
                cancellationToken);
            scenario.References.Add(PythonCallName);
            await MeasureBytesAsync(scenario, RawRpcName, lifeguard => bench.BytesPerCallAsync(lifeguard, RoundtripCallsPerAllocationSample));
            return scenario;
        }
        finally
        {
            await bench.CleanupAsync();
        }
    }

    private static async Task<(Scenario Scenario, List<(string Host, long Served, int PeakBusy)> Served)> RunScalingAsync(Uri broker, CancellationToken cancellationToken)
    {
        var bench = new ClusterScalingBenchmarks();
        try
        {
            await bench.SetupAsync(broker);
            IReadOnlyList<RabbitMqPoolHost> hosts = [.. bench.ThreeHosts, bench.OneHost];
            var before = hosts.Select(h => h.CallsServed).ToArray();
            var scenario = await InterleaveAsync(
                ClusterScalingBenchmarks.Name,
                ScalingBudget,
                [
                    new Competitor(Subject, () => bench.PerCallNsAsync(threeHosts: true)),
                    new Competitor(OneHostName, () => bench.PerCallNsAsync(threeHosts: false)),
                ],
                cancellationToken);
            var served = hosts.Select((h, i) => (h.HostName, h.CallsServed - before[i], h.PeakBusy)).ToList();
            foreach (var (host, _, peak) in served)
            {
                if (peak > ClusterScalingBenchmarks.WorkersPerHost)
                {
                    throw new InvalidOperationException($"{ClusterScalingBenchmarks.Name}: host {host} ran {peak} calls at once, over its capacity of {ClusterScalingBenchmarks.WorkersPerHost}.");
                }
            }

            return (scenario, served);
        }
        finally
        {
            await bench.CleanupAsync();
        }
    }
}
