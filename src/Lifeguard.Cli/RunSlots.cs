namespace Lifeguard.Cli;

/// <summary>
/// How many of a run's inputs may be in flight at once: a fixed number (a local pool's cap, <c>--in-flight N</c>), or
/// a remote pool's serving capacity, re-read every <see cref="RefreshInterval"/> so that hosts added during a run
/// speed it up and hosts gone slow it down. Waiters are served in the order they came (input order). A limit
/// lowered below the slots in use takes effect as they are released. Thread-safe.
/// </summary>
internal sealed class RunSlots : IDisposable
{
    /// <summary>How often a following limit re-reads its capacity.</summary>
    public static readonly TimeSpan RefreshInterval = TimeSpan.FromMilliseconds(500);

    private readonly Lock _lock = new();
    private readonly LinkedList<TaskCompletionSource> _waiters = new();
    private readonly Func<int>? _capacity;
    private readonly ITimer? _timer;
    private int _limit;
    private int _inUse;

    private RunSlots(int limit, Func<int>? capacity, TimeProvider? time)
    {
        _limit = limit;
        _capacity = capacity;
        if (capacity is not null && time is not null)
        {
            _timer = time.CreateTimer(_ => Refresh(), null, RefreshInterval, RefreshInterval);
        }
    }

    /// <summary>The most inputs in flight now.</summary>
    public int Limit
    {
        get
        {
            lock (_lock)
            {
                return _limit;
            }
        }
    }

    /// <summary>The inputs in flight now.</summary>
    public int InUse
    {
        get
        {
            lock (_lock)
            {
                return _inUse;
            }
        }
    }

    /// <summary>At most <paramref name="limit"/> in flight, always.</summary>
    public static RunSlots Fixed(int limit)
    {
        ArgumentOutOfRangeException.ThrowIfLessThan(limit, 1);
        return new RunSlots(limit, capacity: null, time: null);
    }

    /// <summary>As many in flight as <paramref name="capacity"/> says (0 or less: none), read now and every <see cref="RefreshInterval"/> of <paramref name="time"/>.</summary>
    public static RunSlots Following(Func<int> capacity, TimeProvider time)
    {
        ArgumentNullException.ThrowIfNull(capacity);
        ArgumentNullException.ThrowIfNull(time);
        return new RunSlots(Math.Max(0, capacity()), capacity, time);
    }

    /// <summary>Waits for a slot, first come first served.</summary>
    /// <exception cref="OperationCanceledException">The token fired first; no slot is held.</exception>
    public Task WaitAsync(CancellationToken cancellationToken)
    {
        cancellationToken.ThrowIfCancellationRequested();
        LinkedListNode<TaskCompletionSource> node;
        lock (_lock)
        {
            if (_waiters.Count == 0 && _inUse < _limit)
            {
                _inUse++;
                return Task.CompletedTask;
            }

            node = _waiters.AddLast(new TaskCompletionSource(TaskCreationOptions.RunContinuationsAsynchronously));
        }

        if (cancellationToken.CanBeCanceled)
        {
            var registration = cancellationToken.Register(() =>
            {
                lock (_lock)
                {
                    if (node.List is null)
                    {
                        return; // granted already: the slot is the caller's
                    }

                    _waiters.Remove(node);
                }

                node.Value.TrySetCanceled(cancellationToken);
            });
            _ = node.Value.Task.ContinueWith(_ => registration.Dispose(), CancellationToken.None, TaskContinuationOptions.ExecuteSynchronously, TaskScheduler.Default);
        }

        return node.Value.Task;
    }

    /// <summary>Gives a slot back, to the first waiter if the limit allows.</summary>
    public void Release()
    {
        lock (_lock)
        {
            if (_inUse == 0)
            {
                throw new InvalidOperationException("No run slot is held.");
            }

            _inUse--;
            GrantLocked();
        }
    }

    /// <summary>Re-reads the capacity now (a following limit; a fixed one does not change).</summary>
    public void Refresh()
    {
        if (_capacity is null)
        {
            return;
        }

        int capacity = Math.Max(0, _capacity());
        lock (_lock)
        {
            _limit = capacity;
            GrantLocked();
        }
    }

    public void Dispose() => _timer?.Dispose();

    private void GrantLocked()
    {
        while (_inUse < _limit && _waiters.First is { } first)
        {
            _waiters.RemoveFirst();
            _inUse++;
            first.Value.TrySetResult(); // continuations run asynchronously, outside the lock
        }
    }
}
