namespace Lifeguard.Dashboard;

/// <summary>The shared sampler: one loop, one sample per tick for every client, asleep while nobody is connected.</summary>
internal sealed partial class DashboardHub
{
    private readonly Dictionary<string, (long Checkouts, long At)> _previous = new(StringComparer.Ordinal);
    private long _sampleCount;
    private int _parked;
    private int _listening;

    /// <summary>Whether the sampler sleeps, waiting for a client (for tests).</summary>
    internal bool IsParked => Volatile.Read(ref _parked) != 0;

    /// <summary>Whether the meter listener exists (for tests: only while a client is connected).</summary>
    internal bool IsListening => Volatile.Read(ref _listening) != 0;

    private async Task SampleAsync(CancellationToken cancellationToken)
    {
        var time = Settings.Time;
        int window = (int)Math.Ceiling(TimeSpan.FromSeconds(1) / Settings.SampleInterval);
        LatencyRecorder? latency = null;
        try
        {
            while (true)
            {
                Task? arrival = null;
                lock (_lock)
                {
                    if (_clients.Count == 0)
                    {
                        _clientArrived = new TaskCompletionSource(TaskCreationOptions.RunContinuationsAsynchronously);
                        arrival = _clientArrived.Task;
                    }
                }

                if (arrival is not null)
                {
                    // Nobody watches: no listener on the meter (so no clock read per checkout for us), no sampling.
                    latency?.Dispose();
                    latency = null;
                    Volatile.Write(ref _listening, 0);
                    _previous.Clear();
                    Volatile.Write(ref _parked, 1);
                    await arrival.WaitAsync(cancellationToken).ConfigureAwait(false);
                    Volatile.Write(ref _parked, 0);
                }

                if (latency is null)
                {
                    latency = new LatencyRecorder(window);
                    Volatile.Write(ref _listening, 1);
                }

                try
                {
                    Sample(latency);
                }
                catch (Exception e) when (e is not OperationCanceledException)
                {
                    DashboardLog.SampleFailed(Logger, e);
                }

                // A fixed pause after each sample, never a catch-up burst: at most one snapshot per interval.
                await Task.Delay(Settings.SampleInterval, time, cancellationToken).ConfigureAwait(false);
            }
        }
        catch (OperationCanceledException) when (cancellationToken.IsCancellationRequested)
        {
            // The application is stopping.
        }
        finally
        {
            latency?.Dispose();
        }
    }

    private void Sample(LatencyRecorder latency)
    {
        var time = Settings.Time;
        var statuses = SnapshotWriter.ReadStatuses(Registry);
        long now = time.GetTimestamp();
        var rates = new Dictionary<string, PoolRates>(StringComparer.Ordinal);
        var names = new HashSet<string>(StringComparer.Ordinal);
        foreach (var status in statuses)
        {
            names.Add(status.Name);
            var (wait, lease) = latency.Take(status.Name);
            if (_previous.TryGetValue(status.Name, out var before))
            {
                double seconds = time.GetElapsedTime(before.At, now).TotalSeconds;
                double calls = seconds > 0 ? Math.Max(0, status.TotalCheckouts - before.Checkouts) / seconds : 0;
                rates[status.Name] = new PoolRates(calls, wait, lease);
            }

            _previous[status.Name] = (status.TotalCheckouts, now);
        }

        foreach (var name in _previous.Keys.Where(n => !names.Contains(n)).ToList())
        {
            _previous.Remove(name);
        }

        latency.Retain(names);
        var json = SnapshotWriter.Write(time.GetUtcNow(), Settings.AllowActions, statuses, rates);
        Interlocked.Increment(ref _sampleCount);
        StreamClient[] clients;
        lock (_lock)
        {
            _snapshot = new EventLog.Entry(++_lastId, json);
            clients = [.. _clients];
        }

        foreach (var client in clients)
        {
            client.Signal();
        }
    }
}
