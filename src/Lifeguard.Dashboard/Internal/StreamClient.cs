namespace Lifeguard.Dashboard;

/// <summary>
/// One client of the event stream: what it has been sent (<see cref="LastSentId"/>), the first snapshot it may be sent
/// (one taken after it connected), and a signal that something new is there. Its fields are read and written under
/// <see cref="DashboardHub"/>'s lock; <see cref="Signal"/> and <see cref="WaitAsync"/> are thread-safe.
/// </summary>
internal sealed class StreamClient : IDisposable
{
    private readonly SemaphoreSlim _signal = new(0, 1);
    private readonly CancellationTokenSource _dropped = new();

    public StreamClient(string remote, long lastSentId, long minSnapshotId)
    {
        Remote = remote;
        LastSentId = lastSentId;
        MinSnapshotId = minSnapshotId;
    }

    public string Remote { get; }

    /// <summary>The highest id sent: every log entry up to it has been sent, or was gone before it could be.</summary>
    public long LastSentId { get; set; }

    /// <summary>Snapshots with an id above this one may be sent: those taken after the client connected.</summary>
    public long MinSnapshotId { get; }

    /// <summary>Cancelled when the server ends this client's stream (the client reconnects).</summary>
    public CancellationToken Dropped => _dropped.Token;

    public void Signal()
    {
        try
        {
            _signal.Release();
        }
        catch (SemaphoreFullException)
        {
            // Already signalled: the client collects everything new in one go.
        }
        catch (ObjectDisposedException)
        {
            // Gone.
        }
    }

    public Task WaitAsync(CancellationToken cancellationToken) => _signal.WaitAsync(cancellationToken);

    public void Drop()
    {
        try
        {
            _dropped.Cancel();
        }
        catch (ObjectDisposedException)
        {
            // Already gone.
        }
    }

    public void Dispose()
    {
        _signal.Dispose();
        _dropped.Dispose();
    }
}
