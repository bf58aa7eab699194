using Microsoft.Extensions.Diagnostics.HealthChecks;

namespace Lifeguard.Hosting.Internal;

/// <summary>
/// Reports one pool's health from its status: Healthy when a checkout would be served without waiting, Degraded
/// when the pool is <see cref="PoolState.Full"/> or callers wait, Unhealthy in <see cref="PoolState.Backoff"/>,
/// when stopped, or when it is not running. Thread-safe.
/// </summary>
internal sealed class PoolHealthCheck(string name, PoolRegistry registry) : IHealthCheck
{
    public Task<HealthCheckResult> CheckHealthAsync(HealthCheckContext context, CancellationToken cancellationToken = default)
    {
        ArgumentNullException.ThrowIfNull(context);
        if (!registry.TryGet(name, out var pool))
        {
            return Task.FromResult(new HealthCheckResult(context.Registration.FailureStatus, $"Pool '{name}' is not running."));
        }

        var status = pool.GetStatus();
        var data = new Dictionary<string, object>(StringComparer.Ordinal)
        {
            ["state"] = status.State.ToString(),
            ["size"] = status.Size,
            ["maxOverflow"] = status.MaxOverflow,
            ["idle"] = status.Idle,
            ["busy"] = status.Busy,
            ["starting"] = status.Starting,
            ["stopping"] = status.Stopping,
            ["overflow"] = status.Overflow,
            ["waiters"] = status.Waiters,
            ["totalCheckouts"] = status.TotalCheckouts,
            ["totalTimeouts"] = status.TotalTimeouts,
            ["totalRejections"] = status.TotalRejections,
            ["totalStarts"] = status.TotalStarts,
            ["totalRestarts"] = status.TotalRestarts,
            ["totalDeaths"] = status.TotalDeaths,
            ["totalStartFailures"] = status.TotalStartFailures,
        };
        var result = status.State switch
        {
            PoolState.Backoff or PoolState.Stopped => new HealthCheckResult(
                context.Registration.FailureStatus, status.ToString(), status.LastFailure, data),
            PoolState.Full => new HealthCheckResult(HealthStatus.Degraded, status.ToString(), data: data),
            _ when status.Waiters > 0 => new HealthCheckResult(HealthStatus.Degraded, status.ToString(), data: data),
            _ => HealthCheckResult.Healthy(status.ToString(), data),
        };
        return Task.FromResult(result);
    }
}
