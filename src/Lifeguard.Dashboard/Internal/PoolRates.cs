using System.Runtime.InteropServices;

namespace Lifeguard.Dashboard;

/// <summary>
/// What the sampler measured of one pool over its latest tick: calls per second from <see cref="PoolStatus.TotalCheckouts"/>,
/// and checkout-wait and lease-time percentiles from the <c>Lifeguard</c> meter's histograms over the last second
/// (null when nothing was recorded). An immutable value.
/// </summary>
internal sealed record PoolRates(double CallsPerSecond, Percentiles? WaitSeconds, Percentiles? LeaseSeconds);

/// <summary>p50, p95 and p99 of a set of durations, in seconds. An immutable value.</summary>
[StructLayout(LayoutKind.Auto)]
internal readonly record struct Percentiles(double P50, double P95, double P99, long Count);
