using Microsoft.Extensions.Logging;

namespace Lifeguard.Dashboard;

/// <summary>
/// The state behind one mapped dashboard: the event log (fed by one subscription to the registry's events), the one
/// shared sampler (running only while an event-stream client is connected) with its latest snapshot, and the
/// connected clients. Every stream id (log entries and snapshots alike) comes from one counter under the lock, so each
/// client is sent ids in increasing order and a <c>Last-Event-ID</c> says exactly which log entries it has.
/// Thread-safe.
/// </summary>
internal sealed partial class DashboardHub : IDisposable
{
    public const int MaxClients = 100;

    private readonly Lock _lock = new();
    private readonly List<StreamClient> _clients = [];
    private readonly EventLog _log;
    private readonly PoolEventSubscription _events;
    private readonly CancellationTokenSource _stopping = new();
    private long _lastId;
    private EventLog.Entry? _snapshot;
    private TaskCompletionSource? _clientArrived;
    private int _disposed;

    public DashboardHub(PoolRegistry registry, DashboardSettings settings, ILogger logger)
    {
        Registry = registry;
        Settings = settings;
        Logger = logger;
        _log = new EventLog(settings.EventLogCapacity);
        _events = registry.SubscribeToEvents(Math.Max(PoolEventSubscription.DefaultCapacity, settings.EventLogCapacity));
        EventReader = Task.Run(() => ReadEventsAsync(_stopping.Token), _stopping.Token);
        Sampler = Task.Run(() => SampleAsync(_stopping.Token), _stopping.Token);
    }

    public PoolRegistry Registry { get; }

    public DashboardSettings Settings { get; }

    public ILogger Logger { get; }

    /// <summary>Cancelled when the application stops: streams end.</summary>
    public CancellationToken Stopping => _stopping.Token;

    /// <summary>How many event-stream clients are connected.</summary>
    public int ClientCount
    {
        get
        {
            lock (_lock)
            {
                return _clients.Count;
            }
        }
    }

    /// <summary>How many samples the sampler has taken (for tests: none while nobody is connected).</summary>
    public long SampleCount => Interlocked.Read(ref _sampleCount);

    internal Task EventReader { get; }

    internal Task Sampler { get; }

    /// <summary>The event log as a JSON array, oldest first.</summary>
    public byte[] EventLogJson()
    {
        lock (_lock)
        {
            return _log.ToJsonArray();
        }
    }

    /// <summary>
    /// Registers a stream client that has every log entry up to <paramref name="lastEventId"/> (0 for none); null when
    /// <see cref="MaxClients"/> are connected. A <paramref name="lastEventId"/> above any id given out (the server
    /// restarted since) counts as none. Wakes the sampler.
    /// </summary>
    public StreamClient? Register(string remote, long lastEventId)
    {
        StreamClient client;
        lock (_lock)
        {
            if (_clients.Count >= MaxClients || _disposed != 0)
            {
                return null;
            }

            client = new StreamClient(remote, lastEventId > _lastId || lastEventId < 0 ? 0 : lastEventId, _lastId);
            _clients.Add(client);
            _clientArrived?.TrySetResult();
            _clientArrived = null;
        }

        client.Signal();
        return client;
    }

    public void Unregister(StreamClient client)
    {
        lock (_lock)
        {
            _clients.Remove(client);
        }

        client.Dispose();
    }

    /// <summary>
    /// What <paramref name="client"/> has not been sent, in id order: the log entries after its last id, and the latest
    /// snapshot when it is newer than both that id and the client's connection. Marks them sent.
    /// </summary>
    public List<(EventLog.Entry Entry, bool IsSnapshot)> Collect(StreamClient client)
    {
        var entries = new List<EventLog.Entry>();
        var result = new List<(EventLog.Entry, bool)>();
        lock (_lock)
        {
            _log.CopyAfter(client.LastSentId, entries);
            EventLog.Entry? snapshot = _snapshot is { } s && s.Id > client.LastSentId && s.Id > client.MinSnapshotId ? s : null;
            foreach (var entry in entries)
            {
                if (snapshot is { } before && before.Id < entry.Id)
                {
                    result.Add((before, true));
                    snapshot = null;
                }

                result.Add((entry, false));
            }

            if (snapshot is { } last)
            {
                result.Add((last, true));
            }

            if (result.Count > 0)
            {
                client.LastSentId = result[^1].Item1.Id;
            }
        }

        return result;
    }

    /// <summary>Ends every client's stream now (they reconnect with their <c>Last-Event-ID</c>).</summary>
    public void DropClients()
    {
        StreamClient[] clients;
        lock (_lock)
        {
            clients = [.. _clients];
        }

        foreach (var client in clients)
        {
            client.Drop();
        }
    }

    public void Dispose()
    {
        if (Interlocked.Exchange(ref _disposed, 1) != 0)
        {
            return;
        }

        _stopping.Cancel();
        _events.Dispose();
        lock (_lock)
        {
            _clientArrived?.TrySetCanceled(_stopping.Token);
        }
    }

    /// <summary>Gives an entry the next id and adds it to the log, then wakes every client.</summary>
    private void AppendLog(Func<long, byte[]> write)
    {
        StreamClient[] clients;
        lock (_lock)
        {
            long id = ++_lastId;
            _log.Add(id, write(id));
            clients = [.. _clients];
        }

        foreach (var client in clients)
        {
            client.Signal();
        }
    }

    private async Task ReadEventsAsync(CancellationToken cancellationToken)
    {
        long dropped = 0;
        try
        {
            await foreach (var e in _events.Reader.ReadAllAsync(cancellationToken).ConfigureAwait(false))
            {
                long now = _events.DroppedCount;
                if (now != dropped)
                {
                    long lost = now - dropped;
                    dropped = now;
                    DashboardLog.EventsDropped(Logger, lost);
                    AppendLog(id => LogEntryWriter.Write(
                        id, Settings.Time.GetUtcNow(), null, null, null, "EventsDropped", $"{lost} pool events were dropped before the dashboard read them."));
                }

                AppendLog(id => LogEntryWriter.Write(id, e));
            }
        }
        catch (OperationCanceledException) when (cancellationToken.IsCancellationRequested)
        {
            // The application is stopping.
        }
    }
}
