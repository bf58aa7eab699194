using System.Globalization;
using System.Text;

namespace Lifeguard.Cli;

/// <summary>
/// Counts and latencies of a run, in bounded memory: failures by type, and a fixed-size uniform sample of latencies
/// (reservoir sampling) for the percentiles. Not thread-safe: the writer loop records.
/// </summary>
internal sealed class RunStatistics
{
    private const int SampleSize = 20_000;
    private readonly double[] _sample = new double[SampleSize];
    private readonly Random _random = new(1);
    private readonly SortedDictionary<string, long> _failures = new(StringComparer.Ordinal);
    private long _count;

    public long Failed { get; private set; }

    public void Record(RunEntry entry)
    {
        _count++;
        if (!entry.Succeeded)
        {
            Failed++;
            _failures[entry.ErrorType!] = _failures.GetValueOrDefault(entry.ErrorType!) + 1;
            if (entry.Latency == TimeSpan.Zero)
            {
                return; // never called (invalid input): no latency to count
            }
        }

        double ms = entry.Latency.TotalMilliseconds;
        long seen = _count;
        if (seen <= SampleSize)
        {
            _sample[seen - 1] = ms;
        }
        else if (_random.NextInt64(seen) is var slot && slot < SampleSize)
        {
            _sample[slot] = ms;
        }
    }

    public string Summary(TimeSpan elapsed, PoolStatus status)
    {
        var c = CultureInfo.InvariantCulture;
        var text = new StringBuilder();
        text.Append(c, $"lifeguard run: {_count} inputs, {_count - Failed} succeeded, {Failed} failed");
        if (_failures.Count > 0)
        {
            text.Append(" (").AppendJoin(", ", _failures.Select(f => string.Create(c, $"{f.Key} {f.Value}"))).Append(')');
        }

        text.Append(c, $" in {elapsed.TotalSeconds:0.0} s: {_count / Math.Max(elapsed.TotalSeconds, 0.001):0.#} inputs/s").AppendLine();
        var sorted = _sample.Take((int)Math.Min(_count, SampleSize)).Where(v => v > 0).Order().ToArray();
        if (sorted.Length > 0)
        {
            text.Append(c, $"latency p50 {Percentile(sorted, 0.50):0.###} ms, p95 {Percentile(sorted, 0.95):0.###} ms, p99 {Percentile(sorted, 0.99):0.###} ms; ");
        }

        text.Append(c, $"workers: {status.Size} ready, {status.TotalDeaths} died and were replaced, {Math.Max(0, status.TotalStarts - status.Size)} started after the first");
        return text.ToString();
    }

    private static double Percentile(double[] sorted, double p) => sorted[(int)Math.Min(sorted.Length - 1, Math.Ceiling(p * sorted.Length) - 1)];
}
