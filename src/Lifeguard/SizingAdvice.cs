using System.Globalization;

namespace Lifeguard;

/// <summary>
/// Pool sizing by Little's Law (L = λ·W): with callers arriving at <see cref="ArrivalRate"/> per second and each
/// holding a worker for <see cref="ServiceTime"/>, <see cref="MeanBusy"/> workers are busy on average.
/// </summary>
/// <param name="ArrivalRate">λ, arrivals per second.</param>
/// <param name="ServiceTime">W, how long each arrival holds a worker.</param>
/// <param name="PeakRate">The peak arrival rate the overflow should absorb, if one was given.</param>
/// <param name="Headroom">The factor applied to λ·W for <see cref="Size"/>.</param>
/// <param name="MeanBusy">L = λ·W, the mean number of busy workers.</param>
/// <param name="Size">⌈λ·W × headroom⌉, at least 1: the workers to keep ready.</param>
/// <param name="MaxOverflow">⌈(peak − λ)·W⌉: the extra workers a peak needs.</param>
public sealed record SizingAdvice(
    double ArrivalRate,
    TimeSpan ServiceTime,
    double? PeakRate,
    double Headroom,
    double MeanBusy,
    int Size,
    int MaxOverflow)
{
    /// <summary>
    /// Computes the advice. Size = ⌈λ·W × headroom⌉ (at least 1); MaxOverflow = ⌈(peak − λ)·W⌉, or 0 without a peak.
    /// With λ = 10/s, W = 1 s and a peak of 15/s: Size 10, MaxOverflow 5.
    /// </summary>
    /// <exception cref="ArgumentOutOfRangeException">A rate is negative or not finite, W is not positive, the peak is below λ, or headroom is below 1.</exception>
    public static SizingAdvice Compute(double arrivalRate, TimeSpan serviceTime, double? peakRate = null, double headroom = 1.0)
    {
        if (!double.IsFinite(arrivalRate) || arrivalRate < 0)
        {
            throw new ArgumentOutOfRangeException(nameof(arrivalRate), arrivalRate, "The arrival rate must be a finite number of arrivals per second, at least 0.");
        }

        if (serviceTime <= TimeSpan.Zero)
        {
            throw new ArgumentOutOfRangeException(nameof(serviceTime), serviceTime, "The service time must be positive.");
        }

        if (peakRate is { } peak && (!double.IsFinite(peak) || peak < arrivalRate))
        {
            throw new ArgumentOutOfRangeException(nameof(peakRate), peakRate, $"The peak rate must be a finite number at least the arrival rate ({arrivalRate.ToString(CultureInfo.InvariantCulture)}).");
        }

        if (!double.IsFinite(headroom) || headroom < 1)
        {
            throw new ArgumentOutOfRangeException(nameof(headroom), headroom, "Headroom is a factor of at least 1 (1.2 = 20% spare).");
        }

        double w = serviceTime.TotalSeconds;
        double busy = arrivalRate * w;
        int size = Math.Max(1, CeilingOf(busy * headroom));
        int overflow = peakRate is { } p ? CeilingOf((p - arrivalRate) * w) : 0;
        return new SizingAdvice(arrivalRate, serviceTime, peakRate, headroom, busy, size, overflow);
    }

    /// <summary>Two or three lines of reasoning with the numbers.</summary>
    public string Explain()
    {
        var c = CultureInfo.InvariantCulture;
        double w = ServiceTime.TotalSeconds;
        string wText = w >= 1 ? string.Format(c, "{0:0.###} s", w) : string.Format(c, "{0:0.###} ms", w * 1000);
        var lines = new List<string>
        {
            string.Format(c, "Little's Law: L = λ·W = {0:0.###}/s × {1} = {2:0.###} workers busy on average.", ArrivalRate, wText, MeanBusy),
            Headroom == 1
                ? string.Format(c, "Size = ⌈L⌉ = {0}: enough ready workers for the average load.", Size)
                : string.Format(c, "Size = ⌈L × {0:0.###} headroom⌉ = {1}: the average load with spare capacity.", Headroom, Size),
        };
        if (PeakRate is { } peak)
        {
            lines.Add(string.Format(c, "MaxOverflow = ⌈(peak − λ)·W⌉ = ⌈({0:0.###} − {1:0.###})/s × {2}⌉ = {3}: extra workers for the peak, dismissed after it.", peak, ArrivalRate, wText, MaxOverflow));
        }

        return string.Join(Environment.NewLine, lines);
    }

    // Ceiling that forgives binary rounding: 0.1 × 30 is 3.0000000000000004, which must stay 3.
    private static int CeilingOf(double value)
    {
        double ceiling = Math.Ceiling(value - (1e-9 * Math.Max(1, Math.Abs(value))));
        return ceiling >= int.MaxValue ? int.MaxValue : (int)Math.Max(0, ceiling);
    }
}
