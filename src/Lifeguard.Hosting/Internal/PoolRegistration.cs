using Microsoft.Extensions.Logging;

namespace Lifeguard.Hosting.Internal;

/// <summary>How to start one configured pool and keep its limits in step with its options. Immutable.</summary>
/// <param name="Name">The pool's name and service key.</param>
/// <param name="PoolType">The type the pool is resolvable as, besides <see cref="IPool"/>.</param>
/// <param name="StartAsync">Reads the pool's options and starts it.</param>
/// <param name="Watch">Subscribes to option changes that resize the running pool; returns the subscription.</param>
internal sealed record PoolRegistration(
    string Name,
    Type PoolType,
    Func<IServiceProvider, CancellationToken, Task<IPool>> StartAsync,
    Func<IServiceProvider, IPool, ILogger, IDisposable?> Watch);
