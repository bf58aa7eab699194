namespace Lifeguard;

/// <summary>
/// What a pool measured of its own load over a sliding window, and the Little's Law advice that follows. Assumptions,
/// stated so the figures are read for what they are: λ counts successful checkouts (rejected or timed-out callers are
/// not in it, so a pool that sheds load understates demand); L is the busy-worker count sampled four times a second;
/// W is derived as L / λ (Little's Law, valid for a load that is roughly steady over the window) and excludes
/// queueing; the peak is the busiest one-second interval. An idle pool stops sampling, so the window covers its latest
/// busy period.
/// </summary>
/// <param name="Window">The span the figures cover: up to <see cref="PoolOptions.SizingWindow"/>, less just after start.</param>
/// <param name="ArrivalRate">λ: checkouts per second over the window.</param>
/// <param name="PeakRate">The highest one-second checkout rate in the window.</param>
/// <param name="MeanBusy">L: the mean number of busy workers.</param>
/// <param name="MeanLeaseTime">W = L / λ: the mean time a worker is held.</param>
/// <param name="Advice">Size and MaxOverflow for λ, W and the peak.</param>
public sealed record SizingObservation(
    TimeSpan Window,
    double ArrivalRate,
    double PeakRate,
    double MeanBusy,
    TimeSpan MeanLeaseTime,
    SizingAdvice Advice);
