using System.Diagnostics;
using System.Runtime.CompilerServices;
using BenchmarkDotNet.Attributes;
using Microsoft.Extensions.ObjectPool;

namespace Lifeguard.Benchmarks;

/// <summary>
/// <c>pool.uncontended</c>: one caller, one checkout + checkin pair per operation, an idle worker always available.
/// Every contender completes synchronously here, so each is measured without an async state machine in the harness.
/// </summary>
[MemoryDiagnoser]
[BenchmarkCategory(Name)]
public class UncontendedBenchmarks
{
    public const string Name = "pool.uncontended";
    public const int PoolSize = 8;

    private Pool<BenchWorker> _pool = null!;
    private ObjectPool<BenchWorker> _objectPool = null!;
    private SemaphoreBagPool<BenchWorker> _semaphoreBag = null!;
    private ChannelPool<BenchWorker> _channelPool = null!;

    [GlobalSetup]
    public void Setup()
    {
        _pool = Contenders.StartLifeguard(PoolSize);
        _objectPool = Contenders.CreateObjectPool(PoolSize);
        _semaphoreBag = Contenders.CreateSemaphoreBag(PoolSize);
        _channelPool = Contenders.CreateChannelPool(PoolSize);
    }

    [GlobalCleanup]
    public void Cleanup()
    {
        _pool.DisposeAsync().AsTask().GetAwaiter().GetResult();
        _semaphoreBag.Dispose();
    }

    [Benchmark(Description = Name)]
    public long Lifeguard() => LifeguardPair(_pool);

    [Benchmark(Baseline = true, Description = "objectpool")]
    public long ObjectPool() => ObjectPoolPair(_objectPool);

    [Benchmark(Description = "semaphore-bag")]
    public long SemaphoreBag() => SemaphoreBagPair(_semaphoreBag);

    [Benchmark(Description = "channel-pool")]
    public long ChannelPool() => ChannelPoolPair(_channelPool);

    /// <summary>Runs <paramref name="pairs"/> pairs against <paramref name="contender"/>; returns elapsed nanoseconds per pair.</summary>
    internal double MeasureNsPerPair(Contender contender, int pairs)
    {
        long sink = 0;
        long start = Stopwatch.GetTimestamp();
        switch (contender)
        {
            case Contender.Lifeguard:
                for (var i = 0; i < pairs; i++)
                {
                    sink += LifeguardPair(_pool);
                }

                break;
            case Contender.ObjectPool:
                for (var i = 0; i < pairs; i++)
                {
                    sink += ObjectPoolPair(_objectPool);
                }

                break;
            case Contender.ChannelPool:
                for (var i = 0; i < pairs; i++)
                {
                    sink += ChannelPoolPair(_channelPool);
                }

                break;
            default:
                for (var i = 0; i < pairs; i++)
                {
                    sink += SemaphoreBagPair(_semaphoreBag);
                }

                break;
        }

        long elapsed = Stopwatch.GetTimestamp() - start;
        GC.KeepAlive(sink);
        return elapsed * (1e9 / Stopwatch.Frequency) / pairs;
    }

    /// <summary>Bytes allocated on this thread per Lifeguard pair, over <paramref name="pairs"/> pairs.</summary>
    internal double MeasureLifeguardBytesPerPair(int pairs)
    {
        long sink = 0;
        long before = GC.GetAllocatedBytesForCurrentThread();
        for (var i = 0; i < pairs; i++)
        {
            sink += LifeguardPair(_pool);
        }

        long allocated = GC.GetAllocatedBytesForCurrentThread() - before;
        GC.KeepAlive(sink);
        return (double)allocated / pairs;
    }

    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    private static long LifeguardPair(Pool<BenchWorker> pool)
    {
        var checkout = pool.CheckoutAsync();
        var lease = checkout.IsCompletedSuccessfully ? checkout.GetAwaiter().GetResult() : checkout.AsTask().GetAwaiter().GetResult();
        var result = lease.Worker.Touch();
        lease.Dispose();
        return result;
    }

    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    private static long ObjectPoolPair(ObjectPool<BenchWorker> pool)
    {
        var worker = pool.Get();
        var result = worker.Touch();
        pool.Return(worker);
        return result;
    }

    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    private static long SemaphoreBagPair(SemaphoreBagPool<BenchWorker> pool)
    {
        var rent = pool.RentAsync();
        var worker = rent.IsCompletedSuccessfully ? rent.GetAwaiter().GetResult() : rent.AsTask().GetAwaiter().GetResult();
        var result = worker.Touch();
        pool.Return(worker);
        return result;
    }

    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    private static long ChannelPoolPair(ChannelPool<BenchWorker> pool)
    {
        var rent = pool.RentAsync();
        var worker = rent.IsCompletedSuccessfully ? rent.GetAwaiter().GetResult() : rent.AsTask().GetAwaiter().GetResult();
        var result = worker.Touch();
        pool.Return(worker);
        return result;
    }
}
