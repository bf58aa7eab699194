namespace Lifeguard;

/// <summary>
/// A pool's queue of waiting checkouts, in FIFO order (a caller whose worker failed validation goes back to the
/// front), and the pool of reusable waiters. Guarded by the owning pool's lock, except <see cref="Count"/> (read
/// without it by the gauges) and <see cref="Return"/> (lock-free, from the awaiting code).
/// </summary>
internal sealed class WaiterQueue<TWorker>(PoolCore<TWorker> owner)
    where TWorker : class
{
    private const int MaxPooled = 256;
    private readonly Stack<Waiter<TWorker>> _free = new();
    private Waiter<TWorker>? _returned; // lock-free: pushed by Return, taken whole by Rent
    private Waiter<TWorker>? _tail;
    private int _count;

    /// <summary>The oldest waiter, for walks over the queue (<see cref="Waiter{TWorker}.Next"/>); null when empty.</summary>
    public Waiter<TWorker>? Head { get; private set; }

    /// <summary>How many callers wait. Exact under the lock; possibly stale without it.</summary>
    public int Count => Volatile.Read(ref _count);

    public void Enqueue(Waiter<TWorker> waiter, bool front)
    {
        waiter.Queued = true;
        if (front)
        {
            waiter.Previous = null;
            waiter.Next = Head;
            if (Head is null)
            {
                _tail = waiter;
            }
            else
            {
                Head.Previous = waiter;
            }

            Head = waiter;
        }
        else
        {
            waiter.Next = null;
            waiter.Previous = _tail;
            if (_tail is null)
            {
                Head = waiter;
            }
            else
            {
                _tail.Next = waiter;
            }

            _tail = waiter;
        }

        _count++;
    }

    /// <summary>Takes the oldest waiter out of the queue; null when nobody waits.</summary>
    public Waiter<TWorker>? Dequeue()
    {
        var waiter = Head;
        if (waiter is not null)
        {
            Unlink(waiter);
        }

        return waiter;
    }

    public void Unlink(Waiter<TWorker> waiter)
    {
        if (waiter.Previous is null)
        {
            Head = waiter.Next;
        }
        else
        {
            waiter.Previous.Next = waiter.Next;
        }

        if (waiter.Next is null)
        {
            _tail = waiter.Previous;
        }
        else
        {
            waiter.Next.Previous = waiter.Previous;
        }

        waiter.Next = waiter.Previous = null;
        waiter.Queued = false;
        _count--;
    }

    /// <summary>A waiter to queue: a pooled one if any came back, else a new one.</summary>
    public Waiter<TWorker> Rent()
    {
        if (_free.Count == 0)
        {
            // Take every waiter returned since the last time, at once; keep a bounded number.
            for (var w = Interlocked.Exchange(ref _returned, null); w is not null;)
            {
                var next = w.NextFree;
                w.NextFree = null;
                if (_free.Count < MaxPooled)
                {
                    _free.Push(w);
                }
                else
                {
                    w.Timer?.Dispose();
                }

                w = next;
            }
        }

        return _free.Count > 0 ? _free.Pop() : new Waiter<TWorker>(owner);
    }

    /// <summary>Gives a waiter whose use is over back for reuse. Lock-free: pushes are ABA-safe, as the list is only ever taken whole.</summary>
    public void Return(Waiter<TWorker> waiter)
    {
        var head = Volatile.Read(ref _returned);
        while (true)
        {
            waiter.NextFree = head;
            var seen = Interlocked.CompareExchange(ref _returned, waiter, head);
            if (ReferenceEquals(seen, head))
            {
                return;
            }

            head = seen;
        }
    }
}
