using Microsoft.Extensions.ObjectPool;

namespace Lifeguard.Benchmarks;

/// <summary>Builds the subject and the baselines with the same number of ready workers.</summary>
internal static class Contenders
{
    /// <summary>The baseline names used in reports; fixed, other tooling matches on them.</summary>
    public static string BaselineName(Contender contender) => contender switch
    {
        Contender.ObjectPool => "objectpool",
        Contender.SemaphoreBag => "semaphore-bag",
        Contender.ChannelPool => "channel-pool",
        _ => "lifeguard",
    };

    public static Pool<BenchWorker> StartLifeguard(int size)
    {
        var options = new PoolOptions
        {
            Name = "bench",
            Size = size,
            MaxOverflow = 0,
            CheckoutTimeout = Timeout.InfiniteTimeSpan,
        };
        var factory = WorkerFactory.Create<BenchWorker>((_, _) => ValueTask.FromResult(new BenchWorker()));
        return Pool.StartAsync(options, factory).GetAwaiter().GetResult();
    }

    public static ObjectPool<BenchWorker> CreateObjectPool(int size)
    {
        var pool = new DefaultObjectPoolProvider { MaximumRetained = size }.Create(new DefaultPooledObjectPolicy<BenchWorker>());

        // Pre-fill, so the first measured Get does not construct.
        var items = new BenchWorker[size];
        for (var i = 0; i < size; i++)
        {
            items[i] = pool.Get();
        }

        foreach (var item in items)
        {
            pool.Return(item);
        }

        return pool;
    }

    public static SemaphoreBagPool<BenchWorker> CreateSemaphoreBag(int size)
        => new(Enumerable.Range(0, size).Select(_ => new BenchWorker()));

    public static ChannelPool<BenchWorker> CreateChannelPool(int size)
        => new(Enumerable.Range(0, size).Select(_ => new BenchWorker()).ToArray());
}
