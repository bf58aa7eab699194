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
    private long _kept;
    private long _items;

    /// <summary>Failed inputs, those kept from an earlier run (<see cref="Keep"/>) included.</summary>
    public long Failed { get; private set; }

    /// <summary>Counts the entries an earlier run wrote and <c>--resume</c> keeps (no latencies: they were not timed here).</summary>
    public void Keep(ResumePoint resume)
    {
        _kept = resume.Entries;
        foreach (var (type, count) in resume.Failures)
        {
            Failed += count;
            _failures[type] = _failures.GetValueOrDefault(type) + count;
        }
    }

    public void Record(RunEntry entry)
    {
        if (!entry.Completes)
        {
            _items++; // an item: its input is counted by its closing or error entry
            return;
        }

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

    /// <summary>The summary: counts, rate and, when the pool ran, latency percentiles and <paramref name="pool"/>, what its workers or hosts did.</summary>
    public string Summary(TimeSpan elapsed, string? pool)
    {
        var c = CultureInfo.InvariantCulture;
        var text = new StringBuilder();
        long total = _count + _kept;
        text.Append(c, $"lifeguard run: {total} inputs, {total - Failed} succeeded, {Failed} failed");
        if (_failures.Count > 0)
        {
            text.Append(" (").AppendJoin(", ", _failures.Select(f => string.Create(c, $"{f.Key} {f.Value}"))).Append(')');
        }

        if (_kept > 0)
        {
            text.Append(c, $", {_kept} of them kept from the earlier run");
        }

        if (_items > 0)
        {
            text.Append(c, $"; {_items} items yielded");
        }

        if (_count > 0 || _kept == 0)
        {
            text.Append(c, $" in {elapsed.TotalSeconds:0.0} s: {_count / Math.Max(elapsed.TotalSeconds, 0.001):0.#} inputs/s");
        }

        if (pool is null)
        {
            return text.ToString();
        }

        text.AppendLine();
        var sorted = _sample.Take((int)Math.Min(_count, SampleSize)).Where(v => v > 0).Order().ToArray();
        if (sorted.Length > 0)
        {
            text.Append(c, $"latency p50 {Percentile(sorted, 0.50):0.###} ms, p95 {Percentile(sorted, 0.95):0.###} ms, p99 {Percentile(sorted, 0.99):0.###} ms; ");
        }

        text.Append(pool);
        return text.ToString();
    }

    private static double Percentile(double[] sorted, double p) => sorted[(int)Math.Min(sorted.Length - 1, Math.Ceiling(p * sorted.Length) - 1)];
}
