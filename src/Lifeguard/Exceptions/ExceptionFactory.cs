using System.Globalization;

namespace Lifeguard;

/// <summary>Builds every exception the core throws, so wording stays consistent. Stateless and thread-safe.</summary>
internal static class ExceptionFactory
{
    public static PoolTimeoutException CheckoutTimeout(string pool, TimeSpan timeout, PoolStatus status)
    {
        var message = timeout == TimeSpan.Zero
            ? $"Pool '{pool}' is full and this checkout does not wait (timeout zero). "
                + $"{Counts(status)} Use a non-zero CheckoutTimeout to queue, or raise Size or MaxOverflow."
            : $"Pool '{pool}' had no free worker within {Format(timeout)}. {Counts(status)} "
                + "Raise PoolOptions.CheckoutTimeout, Size or MaxOverflow, or hold leases for less time.";
        return new PoolTimeoutException(message, pool, timeout, status);
    }

    public static PoolRejectedException Rejected(string pool, int maxWaiters, PoolStatus status)
        => new(
            $"Pool '{pool}' rejected the checkout: {maxWaiters} callers already wait (MaxWaiters). {Counts(status)} "
                + "Retry later, or raise PoolOptions.MaxWaiters, Size or MaxOverflow.",
            pool,
            status);

    public static PoolStoppedException Stopped(string pool)
        => new($"Pool '{pool}' is stopping or stopped; no worker can be checked out.", pool);

    public static WorkerStartException StartFailed(string pool, int workerId, Exception cause)
        => new(
            $"Pool '{pool}' could not start worker {workerId}: {cause.GetType().Name}: {cause.Message}",
            pool,
            workerId,
            cause);

    public static WorkerStartException DiedWhileStarting(string pool, int workerId, Exception? reason)
        => new(
            $"Pool '{pool}': worker {workerId} reported that it terminated before its start completed.",
            pool,
            workerId,
            reason);

    public static PoolBackoffException Backoff(
        string pool, PoolStatus status, Exception? lastFailure, int? maxRestarts, TimeSpan window)
        => new(
            $"Pool '{pool}' is in backoff after more than {maxRestarts} worker failures within {Format(window)} "
                + "(MaxRestarts, RestartWindow), "
                + "and this checkout needed a new worker. Starts are being retried with exponential backoff; "
                + $"the last failure was: {(lastFailure is null ? "unknown" : lastFailure.GetType().Name + ": " + lastFailure.Message)}",
            pool,
            status,
            lastFailure);

    public static LifeguardException WorkerTerminated(string pool, int workerId)
        => new($"Worker {workerId} of pool '{pool}' reported that it terminated.", pool);

    public static LifeguardException WorkerKilled(string pool, int workerId, string? source, Exception? cause)
        => new($"Worker {workerId} of pool '{pool}' was killed on request{(source is null ? "" : " by " + source)}.", pool, cause);

    public static TimeoutException IdleCheckTimedOut(string pool, int workerId, TimeSpan timeout)
        => new($"Worker {workerId} of pool '{pool}' did not pass its idle check within {Format(timeout)} (IdleCheckTimeout).");

    public static LifeguardException WorkerFailedValidation(string pool, int workerId, Exception? cause)
        => new($"Worker {workerId} of pool '{pool}' failed validation at checkout.", pool, cause);

    public static LifeguardException LeaseAbandoned(string pool, int workerId)
        => new(
            $"A lease on worker {workerId} of pool '{pool}' was never disposed and was reclaimed by the garbage collector.",
            pool);

    public static ObjectDisposedException LeaseReturned()
        => new(nameof(Lease<>), "This lease was already returned to its pool (disposed); check out a new one.");

    public static InvalidOperationException EmptyLease()
        => new("This lease is empty (default): it was never checked out.");

    private static string Counts(PoolStatus s)
        => $"Size {s.Size}, MaxOverflow {s.MaxOverflow}: {s.Busy} busy, {s.Idle} idle, {s.Starting} starting, {s.Waiters} waiting.";

    private static string Format(TimeSpan t)
        => t == Timeout.InfiniteTimeSpan ? "infinite" : t.TotalSeconds.ToString("0.###", CultureInfo.InvariantCulture) + " s";
}
