using System.Diagnostics.Metrics;
using System.Text.Json.Serialization;

namespace Lifeguard.Samples.WebGateway;

/// <summary>
/// Reads the <c>Lifeguard</c> meter live with a <see cref="MeterListener"/>, the way an OpenTelemetry exporter would:
/// counters are summed, histograms summarised (count, sum, min, max), observable gauges read at each
/// <see cref="Read"/>. Only the meter created by this host's <see cref="IMeterFactory"/> is read, so several hosts in
/// one process (tests) do not see each other's pools. Listening starts at construction: resolve it before the pools
/// start to count their first workers. Thread-safe.
/// </summary>
public sealed class LifeguardMeterReader : IDisposable
{
    /// <summary>The meter every Lifeguard pool reports to.</summary>
    public const string MeterName = "Lifeguard";

    private readonly MeterListener _listener = new();
    private readonly Lock _lock = new();      // guards _series
    private readonly Lock _readLock = new();  // one Read at a time, so two reads do not clear each other's gauges
    private readonly Dictionary<string, MetricSeries> _series = new(StringComparer.Ordinal);

    /// <summary>Starts listening to the <c>Lifeguard</c> meter of <paramref name="meterFactory"/>.</summary>
    public LifeguardMeterReader(IMeterFactory meterFactory)
    {
        ArgumentNullException.ThrowIfNull(meterFactory);
        _listener.InstrumentPublished = (instrument, listener) =>
        {
            // A meter from IMeterFactory has the factory as its scope.
            if (instrument.Meter.Name == MeterName && ReferenceEquals(instrument.Meter.Scope, meterFactory))
            {
                listener.EnableMeasurementEvents(instrument);
            }
        };
        _listener.SetMeasurementEventCallback<long>((instrument, value, tags, _) => Record(instrument, value, tags));
        _listener.SetMeasurementEventCallback<int>((instrument, value, tags, _) => Record(instrument, value, tags));
        _listener.SetMeasurementEventCallback<double>((instrument, value, tags, _) => Record(instrument, value, tags));
        _listener.Start();
    }

    /// <summary>Reads the gauges now and returns every series, ordered by name and then tags.</summary>
    public MetricsSnapshot Read()
    {
        lock (_readLock)
        {
            lock (_lock)
            {
                // A gauge is what it is now: a stopped pool's gauges disappear instead of keeping their last value.
                foreach (var key in _series.Where(s => s.Value.Kind == "gauge").Select(s => s.Key).ToList())
                {
                    _series.Remove(key);
                }
            }

            _listener.RecordObservableInstruments();
            lock (_lock)
            {
                return new MetricsSnapshot(
                    MeterName,
                    [.. _series.OrderBy(s => s.Key, StringComparer.Ordinal).Select(s => s.Value)]);
            }
        }
    }

    /// <summary>Stops listening.</summary>
    public void Dispose() => _listener.Dispose();

    private void Record(Instrument instrument, double value, ReadOnlySpan<KeyValuePair<string, object?>> tags)
    {
        var tagMap = new SortedDictionary<string, string?>(StringComparer.Ordinal);
        foreach (var tag in tags)
        {
            tagMap[tag.Key] = tag.Value?.ToString();
        }

        var key = instrument.Name + "{" + string.Join(",", tagMap.Select(t => t.Key + "=" + t.Value)) + "}";
        var kind = instrument switch
        {
            _ when instrument.IsObservable => "gauge",
            Histogram<double> => "histogram",
            _ => "counter",
        };
        lock (_lock)
        {
            var series = _series.TryGetValue(key, out var existing)
                ? existing
                : new MetricSeries(instrument.Name, kind, instrument.Unit, tagMap);
            _series[key] = kind switch
            {
                "gauge" => series with { Value = value },
                "counter" => series with { Value = (series.Value ?? 0) + value },
                _ => series with
                {
                    Count = (series.Count ?? 0) + 1,
                    Sum = (series.Sum ?? 0) + value,
                    Min = Math.Min(series.Min ?? double.MaxValue, value),
                    Max = Math.Max(series.Max ?? double.MinValue, value),
                },
            };
        }
    }
}

/// <summary>What <see cref="LifeguardMeterReader.Read"/> returns: every series of the meter.</summary>
/// <param name="Meter">The meter's name.</param>
/// <param name="Metrics">One entry per instrument and set of tags.</param>
public sealed record MetricsSnapshot(string Meter, IReadOnlyList<MetricSeries> Metrics);

/// <summary>
/// One instrument's measurements for one set of tags (always <c>lifeguard.pool.name</c>): <see cref="Value"/> for a
/// counter (the total) or a gauge (now); <see cref="Count"/>, <see cref="Sum"/>, <see cref="Min"/> and
/// <see cref="Max"/> for a histogram.
/// </summary>
/// <param name="Name">The instrument, e.g. <c>lifeguard.pool.checkouts</c>.</param>
/// <param name="Kind"><c>counter</c>, <c>gauge</c> or <c>histogram</c>.</param>
/// <param name="Unit">The unit, e.g. <c>s</c> or <c>{checkout}</c>.</param>
/// <param name="Tags">The measurement's tags.</param>
public sealed record MetricSeries(string Name, string Kind, string? Unit, IReadOnlyDictionary<string, string?> Tags)
{
    /// <summary>A counter's total or a gauge's value.</summary>
    [JsonIgnore(Condition = JsonIgnoreCondition.WhenWritingNull)]
    public double? Value { get; init; }

    /// <summary>How many values a histogram recorded.</summary>
    [JsonIgnore(Condition = JsonIgnoreCondition.WhenWritingNull)]
    public long? Count { get; init; }

    /// <summary>Their sum.</summary>
    [JsonIgnore(Condition = JsonIgnoreCondition.WhenWritingNull)]
    public double? Sum { get; init; }

    /// <summary>The smallest.</summary>
    [JsonIgnore(Condition = JsonIgnoreCondition.WhenWritingNull)]
    public double? Min { get; init; }

    /// <summary>The largest.</summary>
    [JsonIgnore(Condition = JsonIgnoreCondition.WhenWritingNull)]
    public double? Max { get; init; }
}
