using System.Collections.Concurrent;
using System.Diagnostics.Metrics;

namespace Lifeguard.Dashboard;

/// <summary>
/// Listens to the <c>Lifeguard</c> meter's checkout-wait and lease-duration histograms, per pool, while it exists:
/// the sampler creates it when the first client connects and disposes it when the last leaves, so that with nobody
/// watching the pools record nothing and read no clock for the dashboard. Each measurement is one interlocked
/// increment of a log-scale bucket; <see cref="Take"/> turns the last second of buckets into p50, p95 and p99.
/// Thread-safe: measurements arrive on the pools' threads, <see cref="Take"/> runs on the sampler's.
/// </summary>
internal sealed class LatencyRecorder : IDisposable
{
    public const string MeterName = "Lifeguard";
    public const string WaitInstrument = "lifeguard.pool.checkout.wait";
    public const string LeaseInstrument = "lifeguard.pool.lease.duration";
    private const string PoolTag = "lifeguard.pool.name";

    private readonly ConcurrentDictionary<string, PoolLatency> _pools = new(StringComparer.Ordinal);
    private readonly MeterListener _listener = new();
    private readonly int _window;

    /// <summary>Starts listening.</summary>
    /// <param name="window">How many ticks the percentiles cover (one second's worth).</param>
    public LatencyRecorder(int window)
    {
        _window = Math.Max(1, window);
        _listener.InstrumentPublished = static (instrument, listener) =>
        {
            if (instrument.Meter.Name == MeterName && instrument.Name is WaitInstrument or LeaseInstrument)
            {
                listener.EnableMeasurementEvents(instrument, instrument.Name == WaitInstrument ? Kind.Wait : Kind.Lease);
            }
        };
        _listener.SetMeasurementEventCallback<double>(OnMeasurement);
        _listener.Start();
    }

    private enum Kind
    {
        Wait,
        Lease,
    }

    /// <summary>Ends the current tick of <paramref name="pool"/> and returns its wait and lease percentiles over the window.</summary>
    public (Percentiles? Wait, Percentiles? Lease) Take(string pool)
        => _pools.TryGetValue(pool, out var latency) ? (latency.Wait.Take(), latency.Lease.Take()) : (null, null);

    /// <summary>Forgets pools no longer shown.</summary>
    public void Retain(IReadOnlySet<string> pools)
    {
        foreach (var name in _pools.Keys)
        {
            if (!pools.Contains(name))
            {
                _pools.TryRemove(name, out _);
            }
        }
    }

    public void Dispose() => _listener.Dispose();

    private void OnMeasurement(Instrument instrument, double value, ReadOnlySpan<KeyValuePair<string, object?>> tags, object? state)
    {
        string? pool = null;
        foreach (var tag in tags)
        {
            if (tag.Key == PoolTag)
            {
                pool = tag.Value as string;
                break;
            }
        }

        if (pool is null)
        {
            return;
        }

        var latency = _pools.GetOrAdd(pool, static (_, window) => new PoolLatency(window), _window);
        (state is Kind.Wait ? latency.Wait : latency.Lease).Record(value);
    }

    /// <summary>One pool's two histograms. Thread-safe.</summary>
    private sealed class PoolLatency(int window)
    {
        public LogHistogram Wait { get; } = new(window);

        public LogHistogram Lease { get; } = new(window);
    }
}
