namespace Lifeguard.Benchmarks;

/// <summary>What a scenario runs against: the pool under test or one of its baselines.</summary>
internal enum Contender
{
    /// <summary>Lifeguard's <see cref="Pool{TWorker}"/>, the subject.</summary>
    Lifeguard,

    /// <summary>Microsoft.Extensions.ObjectPool's <c>DefaultObjectPool&lt;T&gt;</c>: fast, but does not bound concurrency.</summary>
    ObjectPool,

    /// <summary>A <see cref="SemaphoreBagPool{T}"/>: SemaphoreSlim plus ConcurrentBag.</summary>
    SemaphoreBag,

    /// <summary>A <see cref="ChannelPool{T}"/>: a bounded Channel of idle items.</summary>
    ChannelPool,
}
