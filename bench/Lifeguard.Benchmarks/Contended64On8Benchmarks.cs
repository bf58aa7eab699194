using System.Diagnostics;
using BenchmarkDotNet.Attributes;
using Microsoft.Extensions.ObjectPool;

namespace Lifeguard.Benchmarks;

/// <summary>
/// <c>pool.contended64on8</c>: 64 concurrent callers share 8 workers. Each caller runs <see cref="PairsPerCaller"/>
/// pairs of: check out, spin briefly on the worker (<see cref="BenchWorker.Spin"/>), <c>await Task.Yield()</c> while
/// still holding it (standing in for a short asynchronous call), check in. Holding the worker across a yield is what
/// makes 56 callers queue at any moment even on two cores. Reported per pair (OperationsPerInvoke).
/// </summary>
/// <remarks>
/// ObjectPool does not bound concurrency: with 64 holders it constructs extra objects and drops them on return, so
/// it is a reference point here, not a like-for-like baseline. <c>semaphore-bag</c> and <c>channel-pool</c> are the
/// meaningful baselines.
/// </remarks>
[MemoryDiagnoser]
[BenchmarkCategory(Name)]
public class Contended64On8Benchmarks
{
    public const string Name = "pool.contended64on8";
    public const int Callers = 64;
    public const int PoolSize = 8;
    public const int PairsPerCaller = 128;
    public const int PairsPerInvoke = Callers * PairsPerCaller;

    private readonly Task[] _tasks = new Task[Callers];
    private Pool<BenchWorker> _pool = null!;
    private ObjectPool<BenchWorker> _objectPool = null!;
    private SemaphoreBagPool<BenchWorker> _semaphoreBag = null!;
    private ChannelPool<BenchWorker> _channelPool = null!;
    private Func<Task> _lifeguardCaller = null!;
    private Func<Task> _objectPoolCaller = null!;
    private Func<Task> _semaphoreBagCaller = null!;
    private Func<Task> _channelPoolCaller = null!;
    private Func<Task> _harnessCaller = null!;
    private long _sink;

    [GlobalSetup]
    public void Setup()
    {
        _pool = Contenders.StartLifeguard(PoolSize);
        _objectPool = Contenders.CreateObjectPool(PoolSize);
        _semaphoreBag = Contenders.CreateSemaphoreBag(PoolSize);
        _channelPool = Contenders.CreateChannelPool(PoolSize);
        _lifeguardCaller = LifeguardCallerAsync;
        _objectPoolCaller = ObjectPoolCallerAsync;
        _semaphoreBagCaller = SemaphoreBagCallerAsync;
        _channelPoolCaller = ChannelPoolCallerAsync;
        _harnessCaller = HarnessCallerAsync;
    }

    [GlobalCleanup]
    public void Cleanup()
    {
        _pool.DisposeAsync().AsTask().GetAwaiter().GetResult();
        _semaphoreBag.Dispose();
    }

    [Benchmark(OperationsPerInvoke = PairsPerInvoke, Description = Name)]
    public Task Lifeguard() => RunCallers(_lifeguardCaller);

    [Benchmark(OperationsPerInvoke = PairsPerInvoke, Description = "objectpool")]
    public Task ObjectPool() => RunCallers(_objectPoolCaller);

    [Benchmark(OperationsPerInvoke = PairsPerInvoke, Baseline = true, Description = "semaphore-bag")]
    public Task SemaphoreBag() => RunCallers(_semaphoreBagCaller);

    [Benchmark(OperationsPerInvoke = PairsPerInvoke, Description = "channel-pool")]
    public Task ChannelPool() => RunCallers(_channelPoolCaller);

    /// <summary>Runs <paramref name="invocations"/> invocations against <paramref name="contender"/>; returns elapsed nanoseconds per pair.</summary>
    internal async Task<double> MeasureNsPerPairAsync(Contender contender, int invocations)
    {
        var caller = contender switch
        {
            Contender.Lifeguard => _lifeguardCaller,
            Contender.ObjectPool => _objectPoolCaller,
            Contender.ChannelPool => _channelPoolCaller,
            _ => _semaphoreBagCaller,
        };
        long start = Stopwatch.GetTimestamp();
        for (var i = 0; i < invocations; i++)
        {
            await RunCallers(caller);
        }

        long elapsed = Stopwatch.GetTimestamp() - start;
        return elapsed * (1e9 / Stopwatch.Frequency) / ((double)PairsPerInvoke * invocations);
    }

    /// <summary>
    /// Process-wide bytes allocated per pair over one invocation against <paramref name="contender"/>, or with no pool
    /// at all (<see langword="null"/>: the same callers, spin and yield, to measure the harness's own share).
    /// </summary>
    internal async Task<double> MeasureBytesPerPairAsync(Contender? contender)
    {
        var caller = contender switch
        {
            null => _harnessCaller,
            Contender.Lifeguard => _lifeguardCaller,
            Contender.ObjectPool => _objectPoolCaller,
            Contender.ChannelPool => _channelPoolCaller,
            _ => _semaphoreBagCaller,
        };
        long before = GC.GetTotalAllocatedBytes(precise: true);
        await RunCallers(caller);
        long allocated = GC.GetTotalAllocatedBytes(precise: true) - before;
        return (double)allocated / PairsPerInvoke;
    }

    private Task RunCallers(Func<Task> caller)
    {
        for (var i = 0; i < Callers; i++)
        {
            _tasks[i] = Task.Run(caller);
        }

        return Task.WhenAll(_tasks);
    }

    private async Task LifeguardCallerAsync()
    {
        long sink = 0;
        for (var i = 0; i < PairsPerCaller; i++)
        {
            var lease = await _pool.CheckoutAsync();
            sink += lease.Worker.Spin();
            await Task.Yield();
            lease.Dispose();
        }

        Interlocked.Add(ref _sink, sink);
    }

    private async Task ObjectPoolCallerAsync()
    {
        long sink = 0;
        for (var i = 0; i < PairsPerCaller; i++)
        {
            var worker = _objectPool.Get();
            sink += worker.Spin();
            await Task.Yield();
            _objectPool.Return(worker);
        }

        Interlocked.Add(ref _sink, sink);
    }

    private async Task SemaphoreBagCallerAsync()
    {
        long sink = 0;
        for (var i = 0; i < PairsPerCaller; i++)
        {
            var worker = await _semaphoreBag.RentAsync();
            sink += worker.Spin();
            await Task.Yield();
            _semaphoreBag.Return(worker);
        }

        Interlocked.Add(ref _sink, sink);
    }

    private async Task ChannelPoolCallerAsync()
    {
        long sink = 0;
        for (var i = 0; i < PairsPerCaller; i++)
        {
            var worker = await _channelPool.RentAsync();
            sink += worker.Spin();
            await Task.Yield();
            _channelPool.Return(worker);
        }

        Interlocked.Add(ref _sink, sink);
    }

    private async Task HarnessCallerAsync()
    {
        long sink = 0;
        var worker = new BenchWorker();
        for (var i = 0; i < PairsPerCaller; i++)
        {
            sink += worker.Spin();
            await Task.Yield();
        }

        Interlocked.Add(ref _sink, sink);
    }
}
