using System.Diagnostics.Metrics;

namespace Lifeguard.Reliability.Tests;

/// <summary>
/// Reads one pool's <c>lifeguard.pool.lease.duration</c> histogram as a user's metrics pipeline would, keeping only the
/// count and the longest lease (constant memory, however long the run). A lease spans one attempt of a call.
/// </summary>
public sealed class LeaseDurationProbe : IDisposable
{
    private readonly MeterListener _listener = new();
    private readonly string _pool;
    private readonly Lock _gate = new();
    private double _max;
    private long _count;

    public LeaseDurationProbe(string poolName)
    {
        _pool = poolName;
        _listener.InstrumentPublished = (instrument, listener) =>
        {
            if (instrument.Meter.Name == "Lifeguard" && instrument.Name == "lifeguard.pool.lease.duration")
            {
                listener.EnableMeasurementEvents(instrument);
            }
        };
        _listener.SetMeasurementEventCallback<double>(OnMeasurement);
        _listener.Start();
    }

    public TimeSpan Longest
    {
        get
        {
            lock (_gate)
            {
                return TimeSpan.FromSeconds(_max);
            }
        }
    }

    public long Count => Interlocked.Read(ref _count);

    public void Dispose() => _listener.Dispose();

    private void OnMeasurement(Instrument instrument, double value, ReadOnlySpan<KeyValuePair<string, object?>> tags, object? state)
    {
        foreach (var tag in tags)
        {
            if (tag.Key == "lifeguard.pool.name" && Equals(tag.Value, _pool))
            {
                Interlocked.Increment(ref _count);
                lock (_gate)
                {
                    _max = Math.Max(_max, value);
                }

                return;
            }
        }
    }
}
