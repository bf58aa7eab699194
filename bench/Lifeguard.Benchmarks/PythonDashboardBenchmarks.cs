using System.Diagnostics;
using System.Diagnostics.Metrics;
using BenchmarkDotNet.Attributes;
using Lifeguard.Dashboard;
using Lifeguard.Python;
using Microsoft.AspNetCore.Builder;
using Microsoft.AspNetCore.Hosting;
using Microsoft.AspNetCore.Hosting.Server;
using Microsoft.AspNetCore.Hosting.Server.Features;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Logging;

namespace Lifeguard.Benchmarks;

/// <summary>
/// <c>python.roundtrip.dashboard</c>: <c>python.roundtrip</c>'s call (<c>benchmod.square(7)</c>, one caller,
/// sequential calls, a <see cref="PythonPool"/> of one worker) through a pool that a dashboard shows to one watching
/// client, against <c>no-dashboard</c>: an identical pool that no dashboard shows. The watched pool is in a
/// <see cref="PoolRegistry"/> mapped by <c>MapLifeguardDashboard</c> in a Kestrel application on 127.0.0.1, and one
/// <see cref="HttpClient"/> reads its <c>GET /lifeguard/events</c> stream for the whole measurement, so the sampler
/// ticks every 250 ms and the dashboard's <see cref="MeterListener"/> on the checkout-wait and lease-duration
/// histograms is live.
/// </summary>
/// <remarks>
/// The dashboard's listener enables those histograms on every meter named <c>Lifeguard</c> in the process, and the
/// process-wide one is shared by every pool that names no <see cref="PoolOptions.MeterFactory"/>. The no-dashboard
/// pool therefore gets a meter of its own that nobody listens to (<see cref="UnwatchedMeterFactory"/>): its
/// histograms stay disabled, as every pool's are in a process without a dashboard. The sampler's ticks and the
/// client's reading run in this process during both contenders' calls.
/// </remarks>
[MemoryDiagnoser]
[BenchmarkCategory(Name)]
public class PythonDashboardBenchmarks
{
    public const string Name = "python.roundtrip.dashboard";
    public const string Prefix = "/lifeguard";
    public const string WatchedPool = "bench-dashboard";
    public const string UnwatchedPool = "bench-dashboard-base";
    private const string LifeguardMeter = "Lifeguard";
    private const string UnwatchedMeter = "Lifeguard.Benchmarks.Unwatched";
    private static readonly string[] Histograms = ["lifeguard.pool.checkout.wait", "lifeguard.pool.lease.duration"];

    /// <summary>What starts every snapshot event on the stream: its <c>event:</c> line, after the <c>id:</c> line.</summary>
    private static readonly byte[] SnapshotMarker = "\nevent: snapshot\n"u8.ToArray();
    private static readonly object?[] Arguments = [PythonRoundtripBenchmarks.Argument];

    private readonly UnwatchedMeterFactory _unwatchedMeter = new();
    private PoolRegistry? _registry;
    private PythonPool _watched = null!;
    private PythonPool _unwatched = null!;
    private WebApplication? _app;
    private HttpClient? _client;
    private CancellationTokenSource? _stopReading;
    private Task? _reader;
    private long _snapshots;
    private long _bytesRead;

    /// <summary>Snapshot events the watching client has read so far.</summary>
    internal long SnapshotsReceived => Interlocked.Read(ref _snapshots);

    /// <summary>Bytes of the event stream the watching client has read so far.</summary>
    internal long BytesReceived => Interlocked.Read(ref _bytesRead);

    [GlobalSetup]
    public void Setup() => SetupAsync().GetAwaiter().GetResult();

    [GlobalCleanup]
    public void Cleanup() => CleanupAsync().GetAwaiter().GetResult();

    [Benchmark(Description = Name)]
    public async Task<int> Dashboard()
        => await _watched.CallAsync<int>(PythonBench.Module, PythonRoundtripBenchmarks.Function, Arguments);

    [Benchmark(Baseline = true, Description = "no-dashboard")]
    public async Task<int> NoDashboard()
        => await _unwatched.CallAsync<int>(PythonBench.Module, PythonRoundtripBenchmarks.Function, Arguments);

    /// <summary>
    /// Starts both pools, the dashboard over the watched one, and the watching client; returns once the client has
    /// read its first snapshot (the sampler runs and the listener exists) and both pools answer.
    /// </summary>
    internal async Task SetupAsync()
    {
        var unwatchedOptions = PythonBench.Options(UnwatchedPool, size: 1);
        unwatchedOptions.MeterFactory = _unwatchedMeter;
        _unwatched = await PythonPool.StartAsync(unwatchedOptions);
        _registry = new PoolRegistry();
        _watched = await PythonBench.StartPoolAsync(WatchedPool, size: 1);
        _registry.Add(_watched);

        var builder = WebApplication.CreateSlimBuilder();
        builder.WebHost.UseKestrel().UseUrls("http://127.0.0.1:0");
        builder.Logging.ClearProviders();
        _app = builder.Build();
        _app.MapLifeguardDashboard(Prefix, new DashboardOptions { Registry = _registry });
        await _app.StartAsync();
        string address = _app.Services.GetRequiredService<IServer>().Features.Get<IServerAddressesFeature>()!.Addresses.First();
        _client = new HttpClient { BaseAddress = new Uri(address.TrimEnd('/') + Prefix + "/"), Timeout = Timeout.InfiniteTimeSpan };

        using var setupTimeout = new CancellationTokenSource(TimeSpan.FromSeconds(30));
        string snapshot = await _client.GetStringAsync("api/snapshot", setupTimeout.Token);
        if (!snapshot.Contains($"\"{WatchedPool}\"", StringComparison.Ordinal) || snapshot.Contains($"\"{UnwatchedPool}\"", StringComparison.Ordinal))
        {
            throw new InvalidOperationException($"{Name}: the dashboard does not show exactly the watched pool: {snapshot}");
        }

        var response = await _client.GetAsync("events", HttpCompletionOption.ResponseHeadersRead, setupTimeout.Token);
        if (!response.IsSuccessStatusCode || response.Content.Headers.ContentType?.MediaType != "text/event-stream")
        {
            response.Dispose();
            throw new InvalidOperationException($"{Name}: GET {Prefix}/events answered {(int)response.StatusCode} {response.Content.Headers.ContentType}.");
        }

        _stopReading = new CancellationTokenSource();
        _reader = Task.Run(() => ReadAsync(response, _stopReading.Token));
        var waited = Stopwatch.StartNew();
        while (SnapshotsReceived == 0)
        {
            EnsureWatched();
            if (waited.Elapsed > TimeSpan.FromSeconds(30))
            {
                throw new InvalidOperationException($"{Name}: no snapshot event on {Prefix}/events within 30 s.");
            }

            await Task.Delay(10);
        }

        EnsureWatched();

        int expected = PythonRoundtripBenchmarks.Argument * PythonRoundtripBenchmarks.Argument;
        if (await Dashboard() != expected || await NoDashboard() != expected)
        {
            throw new InvalidOperationException($"{Name}: a contender did not return {expected}.");
        }
    }

    /// <summary>
    /// Throws if the watching client's stream has ended or failed, or unless the histograms are enabled on the
    /// watched pool's meter (the dashboard listens) and on no instrument of the unwatched one: no measurement without
    /// a watcher, and none of a baseline that pays for it.
    /// </summary>
    internal void EnsureWatched()
    {
        if (_reader is null || _reader.IsCompleted)
        {
            throw new InvalidOperationException($"{Name}: the client's event stream has ended.", _reader?.Exception?.GetBaseException());
        }

        if (SnapshotsReceived > 0 && (!HistogramsEnabled(LifeguardMeter, all: true) || HistogramsEnabled(UnwatchedMeter, all: false)))
        {
            throw new InvalidOperationException(
                $"{Name}: the checkout-wait and lease-duration histograms must be enabled on the '{LifeguardMeter}' meter (the dashboard listens) and not on '{UnwatchedMeter}'.");
        }
    }

    /// <summary>Stops what <see cref="SetupAsync"/> started, also after a setup that failed halfway.</summary>
    internal async Task CleanupAsync()
    {
        if (_reader is not null)
        {
            await _stopReading!.CancelAsync();
            try
            {
                await _reader;
            }
            catch (Exception e) when (e is OperationCanceledException or IOException or HttpRequestException)
            {
                // The stream was cut: that is how the reading ends.
            }

            _reader = null;
        }

        _stopReading?.Dispose();
        _stopReading = null;
        _client?.Dispose();
        _client = null;
        if (_app is not null)
        {
            await _app.StopAsync();
            await _app.DisposeAsync();
            _app = null;
        }

        if (_registry is not null)
        {
            await _registry.DisposeAsync(); // stops the watched pool once added
            _registry = null;
        }

        if (_watched is not null)
        {
            await _watched.DisposeAsync(); // no-op when the registry stopped it
            _watched = null!;
        }

        if (_unwatched is not null)
        {
            await _unwatched.DisposeAsync();
            _unwatched = null!;
        }

        _unwatchedMeter.Dispose();
    }

    /// <summary>Times <paramref name="calls"/> sequential calls one by one; returns the median nanoseconds per call.</summary>
    internal async Task<double> MedianNsAsync(bool dashboard, int calls)
    {
        var samples = new double[calls];
        for (var i = 0; i < calls; i++)
        {
            long start = Stopwatch.GetTimestamp();
            _ = dashboard ? await Dashboard() : await NoDashboard();
            samples[i] = PythonBench.NsSince(start);
        }

        return Statistics.Median(samples);
    }

    /// <summary>Process-wide bytes allocated per call over <paramref name="calls"/> sequential calls (the dashboard's own work included).</summary>
    internal async Task<double> BytesPerCallAsync(bool dashboard, int calls)
    {
        long before = GC.GetTotalAllocatedBytes(precise: true);
        for (var i = 0; i < calls; i++)
        {
            _ = dashboard ? await Dashboard() : await NoDashboard();
        }

        return (double)(GC.GetTotalAllocatedBytes(precise: true) - before) / calls;
    }

    /// <summary>
    /// Whether the histograms the dashboard listens to, on the meters named <paramref name="meter"/>, are all
    /// (<paramref name="all"/>) or any of them enabled by some listener. Reads <see cref="Instrument.Enabled"/> through
    /// a listener that enables nothing itself.
    /// </summary>
    private static bool HistogramsEnabled(string meter, bool all)
    {
        var found = new List<Instrument>();
        using (var probe = new MeterListener())
        {
            probe.InstrumentPublished = (instrument, _) =>
            {
                if (instrument.Meter.Name == meter && Histograms.Contains(instrument.Name, StringComparer.Ordinal))
                {
                    found.Add(instrument);
                }
            };
            probe.Start();
        }

        return all ? found.Count > 0 && found.TrueForAll(i => i.Enabled) : found.Exists(i => i.Enabled);
    }

    /// <summary>
    /// The watching client: drains the event stream into one reused buffer until cancelled, counting the snapshot
    /// events (a marker split across two reads is found, since the bytes that could start one are carried over).
    /// </summary>
    private async Task ReadAsync(HttpResponseMessage response, CancellationToken cancellationToken)
    {
        using (response)
        {
            await using var stream = await response.Content.ReadAsStreamAsync(cancellationToken);
            var buffer = new byte[64 * 1024];
            int carried = 0;
            while (true)
            {
                int read = await stream.ReadAsync(buffer.AsMemory(carried), cancellationToken);
                if (read == 0)
                {
                    return; // the server ended the stream
                }

                Interlocked.Add(ref _bytesRead, read);
                var unread = buffer.AsSpan(0, carried + read);
                int at;
                while ((at = unread.IndexOf(SnapshotMarker)) >= 0)
                {
                    Interlocked.Increment(ref _snapshots);
                    unread = unread[(at + SnapshotMarker.Length)..];
                }

                carried = Math.Min(unread.Length, SnapshotMarker.Length - 1);
                unread[^carried..].CopyTo(buffer);
            }
        }
    }

    /// <summary>
    /// Gives the no-dashboard pool a meter that no listener enables (not named <c>Lifeguard</c>, which the dashboard
    /// listens to by name), so it pays exactly what a pool pays in a process without a dashboard.
    /// </summary>
    private sealed class UnwatchedMeterFactory : IMeterFactory
    {
        private readonly Meter _meter = new(UnwatchedMeter);

        public Meter Create(MeterOptions options) => _meter;

        public void Dispose() => _meter.Dispose();
    }
}
