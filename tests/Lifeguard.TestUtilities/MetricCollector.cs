using System.Collections.Concurrent;
using System.Diagnostics.Metrics;

namespace Lifeguard.Testing;

/// <summary>Listens to the instruments of meters named <c>Lifeguard</c> and records measurements for one pool. Thread-safe.</summary>
public sealed class MetricCollector : IDisposable
{
    private readonly MeterListener _listener = new();
    private readonly string _pool;
    private readonly ConcurrentQueue<(string Instrument, double Value, IReadOnlyDictionary<string, object?> Tags)> _measurements = new();

    public MetricCollector(string poolName)
    {
        _pool = poolName;
        _listener.InstrumentPublished = (instrument, listener) =>
        {
            if (instrument.Meter.Name == "Lifeguard")
            {
                listener.EnableMeasurementEvents(instrument);
            }
        };
        _listener.SetMeasurementEventCallback<long>((i, v, tags, _) => Record(i, v, tags));
        _listener.SetMeasurementEventCallback<int>((i, v, tags, _) => Record(i, v, tags));
        _listener.SetMeasurementEventCallback<double>((i, v, tags, _) => Record(i, v, tags));
        _listener.Start();
    }

    public IEnumerable<(string Instrument, double Value, IReadOnlyDictionary<string, object?> Tags)> Measurements => _measurements;

    /// <summary>Reads the observable gauges now.</summary>
    public void RecordObservables() => _listener.RecordObservableInstruments();

    public double Sum(string instrument) => _measurements.Where(m => m.Instrument == instrument).Sum(m => m.Value);

    public int Count(string instrument) => _measurements.Count(m => m.Instrument == instrument);

    public double? Last(string instrument) => _measurements.LastOrDefault(m => m.Instrument == instrument) is { Instrument: not null } m ? m.Value : null;

    public void Dispose() => _listener.Dispose();

    private void Record(Instrument instrument, double value, ReadOnlySpan<KeyValuePair<string, object?>> tags)
    {
        var dict = new Dictionary<string, object?>(StringComparer.Ordinal);
        foreach (var tag in tags)
        {
            dict[tag.Key] = tag.Value;
        }

        if (dict.TryGetValue("lifeguard.pool.name", out var pool) && Equals(pool, _pool))
        {
            _measurements.Enqueue((instrument.Name, value, dict));
        }
    }
}
