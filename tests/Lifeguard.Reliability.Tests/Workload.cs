using System.Collections.Concurrent;
using System.Diagnostics;
using System.Globalization;
using Lifeguard.Python;

namespace Lifeguard.Reliability.Tests;

/// <summary>The result the <c>chaos.work</c> and <c>chaos.exit_once</c> functions return.</summary>
public sealed record WorkResult(long I, long Double);

/// <summary>
/// The mixed calls the chaos and soak suites make, and their tally: every call is counted exactly once, as a correct
/// result, an expected refusal (the function raised), or a failure by exception type. Thread-safe.
/// </summary>
public sealed class Workload(PythonPool pool, string markerDirectory)
{
    private readonly ConcurrentDictionary<string, long> _failures = new(StringComparer.Ordinal);
    private readonly ConcurrentDictionary<string, Exception> _firstFailures = new(StringComparer.Ordinal);
    private long _attempted;
    private long _succeeded;
    private long _refused;
    private long _crashCalls;
    private long _longestTicks;

    public long Attempted => Interlocked.Read(ref _attempted);

    public long Succeeded => Interlocked.Read(ref _succeeded);

    /// <summary>Calls whose Python function raised, as it was meant to (never retried).</summary>
    public long Refused => Interlocked.Read(ref _refused);

    /// <summary>Calls that made their worker call <c>os._exit</c> (then succeeded on a retry).</summary>
    public long ExitCalls => Interlocked.Read(ref _crashCalls);

    /// <summary>Failures by exception type name (anything that is neither a correct result nor an expected refusal).</summary>
    public IReadOnlyDictionary<string, long> Failures => _failures;

    public long FailureCount => _failures.Values.Sum();

    /// <summary>The longest a caller waited for one call, retries included.</summary>
    public TimeSpan LongestCall => Stopwatch.GetElapsedTime(0, Interlocked.Read(ref _longestTicks));

    /// <summary>
    /// Makes call number <paramref name="i"/>: 1 in 100 exits its worker once, 3 in 100 raise, the rest are idempotent
    /// work, one in five of them taking 2 ms.
    /// </summary>
    public async Task CallAsync(long i, CancellationToken cancellationToken = default)
    {
        Interlocked.Increment(ref _attempted);
        var kind = i % 100;
        var started = Stopwatch.GetTimestamp();
        try
        {
            if (kind is 13 or 42 or 77)
            {
                await pool.CallAsync<object>("chaos", "refuse", [i], cancellationToken: cancellationToken);
                Fail("NoRefusal");
                return;
            }

            WorkResult? result;
            if (kind == 7)
            {
                Interlocked.Increment(ref _crashCalls);
                var marker = Path.Combine(markerDirectory, i.ToString(CultureInfo.InvariantCulture));
                result = await pool.CallAsync<WorkResult>("chaos", "exit_once", [marker, i], cancellationToken: cancellationToken);
            }
            else
            {
                result = await pool.CallAsync<WorkResult>("chaos", "work", [i, i % 5 == 0 ? 2 : 0], cancellationToken: cancellationToken);
            }

            if (result is { } r && r.I == i && r.Double == 2 * i)
            {
                Interlocked.Increment(ref _succeeded);
            }
            else
            {
                Fail("WrongResult");
            }
        }
        catch (PythonException e) when (kind is 13 or 42 or 77 && e.PythonType == "ValueError")
        {
            Interlocked.Increment(ref _refused);
        }
        catch (Exception e)
        {
            _firstFailures.TryAdd(e.GetType().Name, e);
            Fail(e.GetType().Name);
        }
        finally
        {
            var elapsed = Stopwatch.GetTimestamp() - started;
            long seen;
            while (elapsed > (seen = Interlocked.Read(ref _longestTicks))
                && Interlocked.CompareExchange(ref _longestTicks, elapsed, seen) != seen)
            {
            }
        }
    }

    /// <summary>One line: attempted, succeeded, refused, failures by type.</summary>
    public string Summary()
    {
        var failures = _failures.IsEmpty ? "none" : string.Join(", ", _failures.OrderBy(f => f.Key, StringComparer.Ordinal).Select(f => $"{f.Key} {f.Value}"));
        return string.Create(CultureInfo.InvariantCulture, $"attempted {Attempted}, succeeded {Succeeded}, refused as expected {Refused}, exit calls {ExitCalls}, failures: {failures}");
    }

    /// <summary>The first exception of each failure type, in full (stack traces included), for the failure message.</summary>
    public string FirstFailures()
        => string.Join(Environment.NewLine, _firstFailures.OrderBy(f => f.Key, StringComparer.Ordinal).Select(f => $"first {f.Key}: {f.Value}"));

    /// <summary>Counts a failure of a call made outside <see cref="CallAsync"/>.</summary>
    public void Fail(string type) => _failures.AddOrUpdate(type, 1, static (_, n) => n + 1);
}
