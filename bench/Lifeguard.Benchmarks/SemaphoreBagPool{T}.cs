using System.Collections.Concurrent;

namespace Lifeguard.Benchmarks;

/// <summary>
/// The pool most .NET teams hand-write: a <see cref="SemaphoreSlim"/> bounds concurrency to the number of items, a
/// <see cref="ConcurrentBag{T}"/> holds the idle ones. <c>await sem.WaitAsync(); bag.TryTake(out w); … bag.Add(w);
/// sem.Release();</c> — no supervision, no fairness guarantee beyond SemaphoreSlim's, no leak detection.
/// </summary>
/// <typeparam name="T">The pooled item type.</typeparam>
public sealed class SemaphoreBagPool<T> : IDisposable
    where T : class
{
    private readonly SemaphoreSlim _semaphore;
    private readonly ConcurrentBag<T> _bag = [];

    public SemaphoreBagPool(IEnumerable<T> items)
    {
        foreach (var item in items)
        {
            _bag.Add(item);
        }

        _semaphore = new SemaphoreSlim(_bag.Count, _bag.Count);
    }

    /// <summary>
    /// Waits for an item and takes it. Written without an async state machine when the semaphore is free, the same
    /// way <see cref="Pool{TWorker}.CheckoutAsync(CancellationToken)"/> completes synchronously, so the two fast
    /// paths compare like for like.
    /// </summary>
    public ValueTask<T> RentAsync(CancellationToken cancellationToken = default)
    {
        var wait = _semaphore.WaitAsync(cancellationToken);
        return wait.IsCompletedSuccessfully ? new ValueTask<T>(Take()) : RentSlowAsync(wait);
    }

    public void Return(T item)
    {
        _bag.Add(item);
        _semaphore.Release();
    }

    public void Dispose() => _semaphore.Dispose();

    private async ValueTask<T> RentSlowAsync(Task wait)
    {
        await wait.ConfigureAwait(false);
        return Take();
    }

    private T Take() => _bag.TryTake(out var item) ? item : throw new InvalidOperationException("The semaphore admitted more callers than there are items.");
}
