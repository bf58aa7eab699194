using Microsoft.Extensions.Logging;

namespace Lifeguard;

/// <summary>
/// Settings of one pool (derived options, such as the Python pool's, add their own). Validated once, when the pool starts (<see cref="Validate()"/>); a running pool copies them
/// and is unaffected by later changes to this object (use <see cref="Pool{TWorker}.Resize(int, int)"/> to change its limits).
/// </summary>
public class PoolOptions
{
    /// <summary>Name of the pool, used in logs, metrics, errors and the registry. Default <c>"default"</c>.</summary>
    public string Name { get; set; } = "default";

    /// <summary>
    /// Base number of workers, started before the pool is ready and kept alive. Not the maximum: the cap on live
    /// workers is <see cref="Size"/> + <see cref="MaxOverflow"/>. Default 5; at least 0.
    /// </summary>
    public int Size { get; set; } = 5;

    /// <summary>
    /// How many workers beyond <see cref="Size"/> may be started for bursts; they are dismissed when returned while
    /// no caller waits (or after <see cref="OverflowIdleTimeout"/>). Default 0; at least 0.
    /// </summary>
    public int MaxOverflow { get; set; }

    /// <summary>Which idle worker a checkout receives. Default <see cref="PoolStrategy.Lifo"/>.</summary>
    public PoolStrategy Strategy { get; set; } = PoolStrategy.Lifo;

    /// <summary>
    /// How long a checkout waits in the queue for a worker. Default 5 s. <see cref="TimeSpan.Zero"/> never queues
    /// (a full pool throws <see cref="PoolTimeoutException"/> at once); <see cref="Timeout.InfiniteTimeSpan"/> waits
    /// until a worker comes or the caller's token fires.
    /// </summary>
    public TimeSpan CheckoutTimeout { get; set; } = TimeSpan.FromSeconds(5);

    /// <summary>
    /// The most callers that may wait at once; a checkout beyond it is rejected at once with
    /// <see cref="PoolRejectedException"/> (load shedding). Default <see langword="null"/>: unbounded.
    /// </summary>
    public int? MaxWaiters { get; set; }

    /// <summary>
    /// How long a surplus (overflow) worker stays idle before it is dismissed. Default <see cref="TimeSpan.Zero"/>:
    /// dismissed as soon as it is returned with no caller waiting, as in poolboy. A positive value keeps it warm for
    /// the next burst; then the surplus worker that has been idle longest goes first.
    /// </summary>
    public TimeSpan OverflowIdleTimeout { get; set; } = TimeSpan.Zero;

    /// <summary>
    /// Unexpected worker deaths and start failures tolerated within <see cref="RestartWindow"/>; one more puts the
    /// pool into <see cref="PoolState.Backoff"/>. Default 5; at least 0, or <see langword="null"/> for no limit: the
    /// pool never enters backoff, and every failure is replaced at once.
    /// </summary>
    public int? MaxRestarts { get; set; } = 5;

    /// <summary>The sliding window over which <see cref="MaxRestarts"/> is counted. Default 10 s; positive.</summary>
    public TimeSpan RestartWindow { get; set; } = TimeSpan.FromSeconds(10);

    /// <summary>First delay before a start is retried in backoff; doubles on each failure. Default 100 ms; positive.</summary>
    public TimeSpan BackoffInitialDelay { get; set; } = TimeSpan.FromMilliseconds(100);

    /// <summary>The longest delay between start retries in backoff. Default 30 s; at least <see cref="BackoffInitialDelay"/>.</summary>
    public TimeSpan BackoffMaxDelay { get; set; } = TimeSpan.FromSeconds(30);

    /// <summary>
    /// Retire a worker at checkin once it has served this many leases (its replacement starts off the caller's
    /// path). Default <see langword="null"/>: no limit; at least 1.
    /// </summary>
    public int? MaxUsesPerWorker { get; set; }

    /// <summary>
    /// A random number of extra uses, from 0 to this value, added to <see cref="MaxUsesPerWorker"/> for each worker,
    /// so that workers started together do not all retire together. Default 0; at least 0.
    /// </summary>
    public int MaxUsesJitter { get; set; }

    /// <summary>
    /// Retire a worker at checkin once it is older than this (shortened per worker by
    /// <see cref="MaxWorkerLifetimeVariance"/>). Default <see langword="null"/>: no limit; positive.
    /// </summary>
    public TimeSpan? MaxWorkerLifetime { get; set; }

    /// <summary>
    /// Check a worker that has been idle longer than this at checkout, before it is handed out, through the factory's
    /// <see cref="IWorkerValidator{TWorker}"/> (a Python worker answers a ping). A worker that fails the check, or
    /// does not answer within <see cref="IdleCheckTimeout"/>, is killed and replaced, and the caller gets another.
    /// While this is set, the validator runs for such workers only, not on every checkout. Default
    /// <see langword="null"/>: off (a factory's validator, if any, runs on every checkout, without a time limit);
    /// positive.
    /// </summary>
    public TimeSpan? IdleCheckAfter { get; set; }

    /// <summary>
    /// How long an idle check (<see cref="IdleCheckAfter"/>) may take; a worker that has not passed it by then counts
    /// as failed. Default 1 s; positive.
    /// </summary>
    public TimeSpan IdleCheckTimeout { get; set; } = TimeSpan.FromSeconds(1);

    /// <summary>
    /// The most by which each worker's <see cref="MaxWorkerLifetime"/> is shortened, as a fraction of it: each worker
    /// draws its own fraction from 0 up to this value, so that workers started together do not all expire together.
    /// A lifetime is never lengthened. Default 0.025 (2.5 %, as HikariCP); from 0 to 1.
    /// </summary>
    public double MaxWorkerLifetimeVariance { get; set; } = 0.025;

    /// <summary>
    /// Seeds the pool's random source, which draws each worker's <see cref="MaxUsesJitter"/> and
    /// <see cref="MaxWorkerLifetimeVariance"/>: the same seed gives the same draws in the same order, for reproducible
    /// tests. Default <see langword="null"/>: an unpredictable seed.
    /// </summary>
    public int? RandomSeed { get; set; }

    /// <summary>
    /// Log a warning, with the stack trace of the checkout, for a lease held longer than this. Only logs: the lease
    /// is not taken back. Capturing the stack trace costs an allocation per checkout while this is set.
    /// Default <see langword="null"/>: off; positive.
    /// </summary>
    public TimeSpan? LeakDetectionThreshold { get; set; }

    /// <summary>
    /// On stop, how long leased workers may take to be returned before every worker is disposed regardless.
    /// Default 30 s; zero or positive, or infinite.
    /// </summary>
    public TimeSpan DrainTimeout { get; set; } = TimeSpan.FromSeconds(30);

    /// <summary>
    /// The sliding window over which the pool measures its arrival rate and lease time for
    /// <see cref="PoolStatus.Sizing"/>. Default 60 s; from 1 s to 1 h.
    /// </summary>
    public TimeSpan SizingWindow { get; set; } = TimeSpan.FromSeconds(60);

    /// <summary>The clock for every timeout, backoff and age. Default <see cref="TimeProvider.System"/>.</summary>
    public TimeProvider TimeProvider { get; set; } = TimeProvider.System;

    /// <summary>Where the pool logs. Default <see langword="null"/>: no logging.</summary>
    public ILoggerFactory? LoggerFactory { get; set; }

    /// <summary>
    /// Where the pool's <c>Lifeguard</c> meter comes from. Default <see langword="null"/>: a process-wide meter
    /// named <c>Lifeguard</c>.
    /// </summary>
    public System.Diagnostics.Metrics.IMeterFactory? MeterFactory { get; set; }

    /// <summary>
    /// Throws <see cref="ArgumentException"/> naming every offending value if these options cannot start a pool.
    /// </summary>
    public void Validate()
    {
        var errors = new List<string>();
        Validate(errors);
        if (errors.Count > 0)
        {
#pragma warning disable MA0015 // The options object itself is what is invalid; there is no parameter to name.
            throw new ArgumentException($"Invalid options for pool '{Name}': {string.Join(" ", errors)}");
#pragma warning restore MA0015
        }
    }

    /// <summary>Adds a message naming the offending value for every setting that is out of range.</summary>
    /// <param name="errors">Where to add the messages.</param>
    protected virtual void Validate(ICollection<string> errors)
    {
        ArgumentNullException.ThrowIfNull(errors);
        if (string.IsNullOrWhiteSpace(Name))
        {
            errors.Add("Name must not be empty.");
        }

        if (Size < 0)
        {
            errors.Add($"Size must be at least 0 (was {Size}).");
        }

        if (MaxOverflow < 0)
        {
            errors.Add($"MaxOverflow must be at least 0 (was {MaxOverflow}).");
        }

        if (Size >= 0 && MaxOverflow >= 0 && (long)Size + MaxOverflow < 1)
        {
            errors.Add("Size + MaxOverflow must be at least 1 (both are 0, so no worker could ever run).");
        }

        if ((long)Size + MaxOverflow > int.MaxValue)
        {
            errors.Add($"Size + MaxOverflow must fit in an Int32 (was {(long)Size + MaxOverflow}).");
        }

        CheckTimeout(errors, nameof(CheckoutTimeout), CheckoutTimeout);
        CheckTimeout(errors, nameof(DrainTimeout), DrainTimeout);
        if (MaxWaiters is < 0)
        {
            errors.Add($"MaxWaiters must be at least 0 or null (was {MaxWaiters}).");
        }

        if (OverflowIdleTimeout < TimeSpan.Zero && OverflowIdleTimeout != Timeout.InfiniteTimeSpan)
        {
            errors.Add($"OverflowIdleTimeout must be zero, positive or infinite (was {OverflowIdleTimeout}).");
        }

        if (MaxRestarts is < 0)
        {
            errors.Add($"MaxRestarts must be at least 0 or null (was {MaxRestarts}).");
        }

        CheckPositive(errors, nameof(RestartWindow), RestartWindow);
        CheckPositive(errors, nameof(BackoffInitialDelay), BackoffInitialDelay);
        CheckPositive(errors, nameof(BackoffMaxDelay), BackoffMaxDelay);
        if (BackoffMaxDelay < BackoffInitialDelay)
        {
            errors.Add($"BackoffMaxDelay ({BackoffMaxDelay}) must be at least BackoffInitialDelay ({BackoffInitialDelay}).");
        }

        if (MaxUsesPerWorker is < 1)
        {
            errors.Add($"MaxUsesPerWorker must be at least 1 or null (was {MaxUsesPerWorker}).");
        }

        if (MaxUsesJitter < 0)
        {
            errors.Add($"MaxUsesJitter must be at least 0 (was {MaxUsesJitter}).");
        }

        if (MaxWorkerLifetime is { } lifetime)
        {
            CheckPositive(errors, nameof(MaxWorkerLifetime), lifetime);
        }

        if (IdleCheckAfter is { } idleCheck)
        {
            CheckPositive(errors, nameof(IdleCheckAfter), idleCheck);
        }

        CheckPositive(errors, nameof(IdleCheckTimeout), IdleCheckTimeout);

        if (!(MaxWorkerLifetimeVariance is >= 0 and <= 1))
        {
            errors.Add(string.Create(
                System.Globalization.CultureInfo.InvariantCulture,
                $"MaxWorkerLifetimeVariance must be from 0 to 1 (was {MaxWorkerLifetimeVariance})."));
        }

        if (LeakDetectionThreshold is { } leak)
        {
            CheckPositive(errors, nameof(LeakDetectionThreshold), leak);
        }

        if (SizingWindow < TimeSpan.FromSeconds(1) || SizingWindow > TimeSpan.FromHours(1))
        {
            errors.Add($"SizingWindow must be from 1 s to 1 h (was {SizingWindow}).");
        }

        if (TimeProvider is null)
        {
            errors.Add("TimeProvider must not be null.");
        }
    }

    internal static void ValidateLimits(string name, int size, int maxOverflow)
    {
        if (size < 0 || maxOverflow < 0 || (long)size + maxOverflow < 1 || (long)size + maxOverflow > int.MaxValue)
        {
            throw new ArgumentOutOfRangeException(
                nameof(size),
                $"Invalid limits for pool '{name}': Size ({size}) and MaxOverflow ({maxOverflow}) must be at least 0, "
                    + "and Size + MaxOverflow at least 1.");
        }
    }

    internal PoolOptions Clone() => (PoolOptions)MemberwiseClone();

    private static void CheckTimeout(ICollection<string> errors, string name, TimeSpan value)
    {
        if (value < TimeSpan.Zero && value != Timeout.InfiniteTimeSpan)
        {
            errors.Add($"{name} must be zero, positive or Timeout.InfiniteTimeSpan (was {value}).");
        }
    }

    internal static void CheckPositive(ICollection<string> errors, string name, TimeSpan value)
    {
        if (value <= TimeSpan.Zero)
        {
            errors.Add($"{name} must be positive (was {value}).");
        }
    }
}
