using System.Threading.Channels;

namespace Lifeguard.Benchmarks;

/// <summary>
/// The pool a careful .NET developer writes on <see cref="System.Threading.Channels"/>: a bounded
/// <see cref="Channel{T}"/> holds the idle items; checkout reads one (<see cref="ChannelReader{T}.TryRead"/> first, so
/// an idle item is taken without an async state machine), checkin writes it back (<see cref="ChannelWriter{T}.TryWrite"/>,
/// which never fails: the channel's capacity is the number of items). FIFO waiters, no supervision, no leak detection.
/// </summary>
/// <typeparam name="T">The pooled item type.</typeparam>
public sealed class ChannelPool<T>
    where T : class
{
    private readonly Channel<T> _idle;

    public ChannelPool(IReadOnlyCollection<T> items)
    {
        _idle = Channel.CreateBounded<T>(new BoundedChannelOptions(items.Count)
        {
            FullMode = BoundedChannelFullMode.Wait,
            SingleReader = false,
            SingleWriter = false,
        });
        foreach (var item in items)
        {
            _idle.Writer.TryWrite(item);
        }
    }

    /// <summary>Takes an idle item, or waits for one to be returned.</summary>
    public ValueTask<T> RentAsync(CancellationToken cancellationToken = default)
        => _idle.Reader.TryRead(out var item) ? new ValueTask<T>(item) : _idle.Reader.ReadAsync(cancellationToken);

    public void Return(T item)
    {
        if (!_idle.Writer.TryWrite(item))
        {
            throw new InvalidOperationException("More items were returned than the pool holds.");
        }
    }
}
