using System.CommandLine;
using System.Diagnostics;
using System.Globalization;
using Lifeguard.Python;
using Spectre.Console;

namespace Lifeguard.Cli;

/// <summary>
/// <c>lifeguard bench</c>: a short run of the Python round-trip and scaling measurements on this machine, as a table.
/// The full, baseline-compared figures come from the benchmark project (bench/README.md). Stateless.
/// </summary>
internal static class BenchCommand
{
    public static Command Create(TextWriter output)
    {
        var command = new Command(
            "bench",
            "Measure, on this machine, a trivial Python call's round trip through a pool, and how a CPU-bound function scales from\n"
                + "1 to 2 workers. Medians of short runs; for baseline comparisons use the benchmark project (bench/README.md).\n\n"
                + "Example:\n"
                + "  lifeguard bench");
        command.SetAction((_, cancellationToken) => RunAsync(output, cancellationToken));
        return command;
    }

    private static async Task<int> RunAsync(TextWriter output, CancellationToken cancellationToken)
    {
        var folder = Path.Combine(AppContext.BaseDirectory, "demo");
        var roundTrip = await RoundTripAsync(folder, cancellationToken).ConfigureAwait(false);
        int n = await CalibrateAsync(folder, cancellationToken).ConfigureAwait(false);
        var one = await PerCallAsync(folder, workers: 1, n, cancellationToken).ConfigureAwait(false);
        var two = await PerCallAsync(folder, workers: 2, n, cancellationToken).ConfigureAwait(false);

        var c = CultureInfo.InvariantCulture;
        var table = new Table().AddColumns("measurement", "result", "how");
        table.AddRow("round trip", string.Create(c, $"{roundTrip.TotalMicroseconds:0.0} µs"), "median of 5 × 500 sequential calls of square(7), pool of 1");
        table.AddRow("CPU-bound call, 1 worker", string.Create(c, $"{one.TotalMilliseconds:0.00} ms per call"), string.Create(c, $"burn({n}), ~2 ms of Python, 4 callers"));
        table.AddRow("CPU-bound call, 2 workers", string.Create(c, $"{two.TotalMilliseconds:0.00} ms per call"), "the same, pool of 2");
        table.AddRow("scaling, 1 → 2 workers", string.Create(c, $"{one / two:0.00}×"), string.Create(c, $"on {Environment.ProcessorCount} processors"));
        var console = AnsiConsole.Create(new AnsiConsoleSettings { Out = new AnsiConsoleOutput(output), Ansi = AnsiSupport.Detect, ColorSystem = ColorSystemSupport.Detect });
        console.Write(table);
        return ExitCodes.Success;
    }

    private static async Task<TimeSpan> RoundTripAsync(string folder, CancellationToken cancellationToken)
    {
        var pool = await StartAsync(folder, 1, cancellationToken).ConfigureAwait(false);
        await using (pool.ConfigureAwait(false))
        {
            var medians = new List<double>();
            for (int round = 0; round < 5; round++)
            {
                var samples = new double[500];
                for (int i = 0; i < samples.Length; i++)
                {
                    long started = Stopwatch.GetTimestamp();
                    await pool.CallAsync<int>("lifeguard_bench", "square", [7], cancellationToken: cancellationToken).ConfigureAwait(false);
                    samples[i] = Stopwatch.GetElapsedTime(started).TotalMicroseconds;
                }

                medians.Add(Median(samples));
            }

            return TimeSpan.FromMicroseconds(Median([.. medians]));
        }
    }

    /// <summary>Finds the burn(n) that takes about 2 ms on this machine.</summary>
    private static async Task<int> CalibrateAsync(string folder, CancellationToken cancellationToken)
    {
        var pool = await StartAsync(folder, 1, cancellationToken).ConfigureAwait(false);
        await using (pool.ConfigureAwait(false))
        {
            int n = 10_000;
            for (int attempt = 0; attempt < 8; attempt++)
            {
                long started = Stopwatch.GetTimestamp();
                await pool.CallAsync<long>("lifeguard_bench", "burn", [n], cancellationToken: cancellationToken).ConfigureAwait(false);
                double ms = Stopwatch.GetElapsedTime(started).TotalMilliseconds;
                n = (int)Math.Clamp(n * 2.0 / Math.Max(ms, 0.01), 1_000, 10_000_000);
            }

            return n;
        }
    }

    private static async Task<TimeSpan> PerCallAsync(string folder, int workers, int n, CancellationToken cancellationToken)
    {
        var pool = await StartAsync(folder, workers, cancellationToken).ConfigureAwait(false);
        await using (pool.ConfigureAwait(false))
        {
            var medians = new List<double>();
            for (int round = 0; round < 5; round++)
            {
                long started = Stopwatch.GetTimestamp();
                var calls = Enumerable.Range(0, 4).Select(async _ =>
                {
                    for (int i = 0; i < 12; i++)
                    {
                        await pool.CallAsync<long>("lifeguard_bench", "burn", [n], cancellationToken: cancellationToken).ConfigureAwait(false);
                    }
                });
                await Task.WhenAll(calls).ConfigureAwait(false);
                medians.Add(Stopwatch.GetElapsedTime(started).TotalMilliseconds / 48);
            }

            return TimeSpan.FromMilliseconds(Median([.. medians]));
        }
    }

    private static Task<PythonPool> StartAsync(string folder, int size, CancellationToken cancellationToken)
    {
        var options = new PythonPoolOptions { Name = "bench", Size = size, CheckoutTimeout = Timeout.InfiniteTimeSpan };
        options.ModulePaths.Add(folder);
        options.Preload.Add("lifeguard_bench");
        return PythonPool.StartAsync(options, cancellationToken);
    }

    private static double Median(double[] values)
    {
        Array.Sort(values);
        return values[values.Length / 2];
    }
}
