namespace Lifeguard;

/// <summary>
/// A pool's event publisher: the subscriptions attached to it, and the sequence and clock that number and time each
/// event. Publishing takes the hub's own lock (never the pool's) to number an event and hand it to every
/// subscription's buffer, which never blocks; with no subscriber, <see cref="IsActive"/> is one volatile read and the
/// pool builds no event at all. Thread-safe.
/// </summary>
internal sealed class PoolEventHub(string poolName, TimeProvider time)
{
    private readonly Lock _gate = new();
    private PoolEventSubscription[] _subscriptions = [];
    private long _sequence;
    private bool _completed;

    /// <summary>Whether anyone listens: read by the pool before it builds an event.</summary>
    public bool IsActive => Volatile.Read(ref _subscriptions).Length != 0;

    public PoolEventSubscription Subscribe(int capacity)
    {
        var subscription = new PoolEventSubscription(capacity, completesWithPool: true);
        if (Attach(subscription))
        {
            subscription.SetDetach(Detach);
        }
        else
        {
            subscription.Complete(); // the pool has stopped: nothing will ever come
        }

        return subscription;
    }

    /// <summary>Adds a subscription; false if the pool has stopped.</summary>
    public bool Attach(PoolEventSubscription subscription)
    {
        lock (_gate)
        {
            if (_completed)
            {
                return false;
            }

            Volatile.Write(ref _subscriptions, [.. _subscriptions, subscription]);
            return true;
        }
    }

    public void Detach(PoolEventSubscription subscription)
    {
        lock (_gate)
        {
            int index = Array.IndexOf(_subscriptions, subscription);
            if (index >= 0)
            {
                var rest = new PoolEventSubscription[_subscriptions.Length - 1];
                Array.Copy(_subscriptions, 0, rest, 0, index);
                Array.Copy(_subscriptions, index + 1, rest, index, rest.Length - index);
                Volatile.Write(ref _subscriptions, rest);
            }
        }
    }

    /// <summary>Numbers, timestamps and hands out one event. Never call it under the pool's lock.</summary>
    public void Publish(PoolEventDraft draft)
    {
        lock (_gate)
        {
            var subscriptions = _subscriptions;
            if (subscriptions.Length == 0)
            {
                return;
            }

            // Numbered and timed under the hub's lock, so that Sequence order is publication order for everyone.
            var e = new PoolEvent(++_sequence, time.GetUtcNow(), poolName, draft);
            foreach (var subscription in subscriptions)
            {
                subscription.Write(e);
            }
        }
    }

    /// <summary>After the pool's last event: the pool's own subscriptions complete; nothing is published any more.</summary>
    public void Complete()
    {
        PoolEventSubscription[] subscriptions;
        lock (_gate)
        {
            _completed = true;
            subscriptions = _subscriptions;
            Volatile.Write(ref _subscriptions, []);
        }

        foreach (var subscription in subscriptions)
        {
            if (subscription.CompletesWithPool)
            {
                subscription.Complete();
            }
        }
    }
}

/// <summary>A pool whose events a registry can attach its subscriptions to directly. Implemented by Lifeguard's own pools.</summary>
internal interface IPoolEventSource
{
    PoolEventHub EventHub { get; }
}
