namespace Lifeguard.Dashboard;

/// <summary>
/// How <c>MapLifeguardDashboard</c> serves the dashboard: which registry it shows, whether the page may act on pools
/// and with which token, how often it samples, how many events it keeps. Read once, when the dashboard is mapped.
/// </summary>
public sealed class DashboardOptions
{
    /// <summary>The shortest <see cref="SampleInterval"/>: 250 ms, so snapshots go out at most 4 times a second.</summary>
    public static readonly TimeSpan MinSampleInterval = TimeSpan.FromMilliseconds(250);

    /// <summary>The largest <see cref="EventLogCapacity"/>: 100,000 entries.</summary>
    public const int MaxEventLogCapacity = 100_000;

    /// <summary>
    /// Whether the action endpoints (kill a worker, resize, recycle) are mapped. Off (the default): they are not, and
    /// answer 404; the page is read-only. On: each action needs <see cref="ActionToken"/> in the
    /// <c>X-Lifeguard-Token</c> header.
    /// </summary>
    public bool AllowActions { get; set; }

    /// <summary>
    /// The secret an action request must carry in its <c>X-Lifeguard-Token</c> header (compared in constant time);
    /// required, non-empty, when <see cref="AllowActions"/> is on. Never logged.
    /// </summary>
    public string? ActionToken { get; set; }

    /// <summary>
    /// How often the pools are sampled while a client watches the event stream: one shared sample per tick, however
    /// many clients, none when there are none. Default and minimum 250 ms (at most 4 snapshots a second); at most 1 minute.
    /// </summary>
    public TimeSpan SampleInterval { get; set; } = MinSampleInterval;

    /// <summary>
    /// How many event-log entries are kept for the page and for clients that reconnect (<c>Last-Event-ID</c>). Default
    /// 1,000; from 1 to <see cref="MaxEventLogCapacity"/>.
    /// </summary>
    public int EventLogCapacity { get; set; } = 1000;

    /// <summary>The pools to show. Default: the <see cref="PoolRegistry"/> registered in the application's services (<c>AddLifeguard()</c>).</summary>
    public PoolRegistry? Registry { get; set; }

    /// <summary>The clock for sampling, rates and heartbeats. Default: <see cref="TimeProvider.System"/>.</summary>
    public TimeProvider TimeProvider { get; set; } = TimeProvider.System;

    /// <summary>Checks the options; throws naming the first that is invalid, with its value.</summary>
    internal static void Validate(DashboardOptions options)
    {
        if (options.AllowActions && string.IsNullOrEmpty(options.ActionToken))
        {
            throw new ArgumentException(
                "DashboardOptions.AllowActions is on but ActionToken is empty: actions need a token (a long random secret) to send in the X-Lifeguard-Token header.",
                nameof(options));
        }

        if (options.SampleInterval < MinSampleInterval || options.SampleInterval > TimeSpan.FromMinutes(1))
        {
            throw new ArgumentOutOfRangeException(
                nameof(options), options.SampleInterval, "DashboardOptions.SampleInterval must be from 250 ms to 1 minute.");
        }

        if (options.EventLogCapacity is < 1 or > MaxEventLogCapacity)
        {
            throw new ArgumentOutOfRangeException(
                nameof(options), options.EventLogCapacity, $"DashboardOptions.EventLogCapacity must be from 1 to {MaxEventLogCapacity}.");
        }

        if (options.TimeProvider is null)
        {
            throw new ArgumentException("DashboardOptions.TimeProvider must not be null.", nameof(options));
        }
    }
}
