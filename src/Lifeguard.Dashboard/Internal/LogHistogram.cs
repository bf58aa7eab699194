namespace Lifeguard.Dashboard;

/// <summary>
/// Durations in seconds counted in log-scale buckets (16 per decade from 1 µs to 1,000 s, one for zero and one for
/// longer), per tick, over a window of ticks. <see cref="Record"/> is one interlocked increment, from any thread;
/// <see cref="Take"/> runs on one thread (the sampler's). A measurement racing a tick's end may land in either tick.
/// </summary>
internal sealed class LogHistogram
{
    private const double Smallest = 1e-6;
    private const int PerDecade = 16;
    private const int Decades = 9;
    private const int Buckets = (PerDecade * Decades) + 2;

    private readonly long[][] _ticks;
    private long[] _current = new long[Buckets];
    private int _next;

    public LogHistogram(int window)
    {
        _ticks = new long[window][];
        for (int i = 0; i < window; i++)
        {
            _ticks[i] = new long[Buckets];
        }
    }

    public void Record(double seconds) => Interlocked.Increment(ref Volatile.Read(ref _current)[BucketOf(seconds)]);

    /// <summary>Closes the current tick and returns the window's percentiles; null when the window holds nothing.</summary>
    public Percentiles? Take()
    {
        // The oldest tick of the window is cleared and becomes the current one.
        var reuse = _ticks[_next];
        Array.Clear(reuse);
        _ticks[_next] = Interlocked.Exchange(ref _current, reuse);
        _next = (_next + 1) % _ticks.Length;

        Span<long> merged = stackalloc long[Buckets];
        long count = 0;
        foreach (var tick in _ticks)
        {
            for (int b = 0; b < Buckets; b++)
            {
                long n = Volatile.Read(ref tick[b]);
                merged[b] += n;
                count += n;
            }
        }

        if (count == 0)
        {
            return null;
        }

        return new Percentiles(Quantile(merged, count, 0.50), Quantile(merged, count, 0.95), Quantile(merged, count, 0.99), count);
    }

    internal static int BucketOf(double seconds)
    {
        if (!(seconds > Smallest))
        {
            return 0;
        }

        int bucket = 1 + (int)Math.Floor(Math.Log10(seconds / Smallest) * PerDecade);
        return Math.Min(bucket, Buckets - 1);
    }

    /// <summary>A bucket's representative value: the geometric middle of its bounds; 0 for the zero bucket.</summary>
    internal static double ValueOf(int bucket)
    {
        if (bucket == 0)
        {
            return 0;
        }

        return Smallest * Math.Pow(10, (bucket - 0.5) / PerDecade);
    }

    private static double Quantile(ReadOnlySpan<long> buckets, long count, double q)
    {
        long rank = Math.Max(1, (long)Math.Ceiling(q * count));
        long seen = 0;
        for (int b = 0; b < buckets.Length; b++)
        {
            seen += buckets[b];
            if (seen >= rank)
            {
                return ValueOf(b);
            }
        }

        return ValueOf(buckets.Length - 1);
    }
}
