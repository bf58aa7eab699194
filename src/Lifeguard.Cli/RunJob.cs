using System.Diagnostics;
using System.Text.Json;
using System.Threading.Channels;
using Lifeguard.Python;
using Spectre.Console;

namespace Lifeguard.Cli;

/// <summary>
/// One run: streams the input, calls the function for each line with at most the pool's cap in flight, and writes the
/// results in input order. Memory stays bounded however large the input: a bounded channel of pending results is the
/// reorder window, and latency percentiles come from a fixed-size sample. Not thread-safe; used once.
/// </summary>
internal sealed class RunJob(RunSettings settings, TextWriter error)
{
    private readonly RunStatistics _stats = new();
    private readonly RunOutputForwarder _output = new(error, TimeProvider.System);

    public async Task<int> RunAsync(CancellationToken cancellationToken)
    {
        using var forwarder = _output;
        if (await RunTarget.StartAsync(settings, _output, error, cancellationToken).ConfigureAwait(false) is not { } pool)
        {
            return ExitCodes.Usage; // reported; no input was read
        }

        await using (pool.ConfigureAwait(false))
        {
            Stream sink;
            try
            {
                sink = settings.Output is null ? Console.OpenStandardOutput() : settings.Output.Create();
            }
            catch (Exception e) when (e is IOException or UnauthorizedAccessException)
            {
                // Checked before the pool started (RunPaths); this is the path changing since.
                await error.WriteLineAsync($"lifeguard run: cannot write --output '{settings.Output}': {e.Message}").ConfigureAwait(false);
                return ExitCodes.Usage;
            }

            await using (sink.ConfigureAwait(false))
            {
                var clock = Stopwatch.StartNew();
                if (Console.IsErrorRedirected)
                {
                    await PumpAsync(pool, sink, progress: null, cancellationToken).ConfigureAwait(false);
                }
                else
                {
                    await WithProgressAsync(pool, sink, cancellationToken).ConfigureAwait(false);
                }

                var (elapsed, status) = (clock.Elapsed, pool.GetStatus());
                await pool.StopAsync(CancellationToken.None).ConfigureAwait(false); // its workers' last lines are forwarded first
                _output.Complete();
                await error.WriteLineAsync(_stats.Summary(elapsed, status)).ConfigureAwait(false);
            }
        }

        return _stats.Failed == 0 ? ExitCodes.Success : ExitCodes.SomeFailed;
    }

    /// <summary>A progress bar with rate and ETA and a live pool status line, on stderr, when stderr is a terminal.</summary>
    private async Task WithProgressAsync(PythonPool pool, Stream sink, CancellationToken cancellationToken)
    {
        long total = 0;
        foreach (var line in File.ReadLines(settings.Input.FullName))
        {
            total += string.IsNullOrWhiteSpace(line) ? 0 : 1;
        }

        var console = AnsiConsole.Create(new AnsiConsoleSettings { Out = new AnsiConsoleOutput(Console.Error) });
        await console.Progress()
            .Columns(new TaskDescriptionColumn(), new ProgressBarColumn(), new PercentageColumn(), new RemainingTimeColumn(), new SpinnerColumn())
            .StartAsync(async context =>
            {
                _output.Console = console; // lines are printed above the progress display while it runs
                var task = context.AddTask(Path.GetFileName(settings.Target.File) + ":" + settings.Target.Function, maxValue: Math.Max(1, total));
                await PumpAsync(pool, sink, done =>
                {
                    task.Value = done;
                    var s = pool.GetStatus();
                    task.Description = $"{settings.Target.Function} [grey]busy {s.Busy} idle {s.Idle} overflow {s.Overflow} waiting {s.Waiters} restarts {s.TotalRestarts}[/] {done / Math.Max(0.001, task.ElapsedTime?.TotalSeconds ?? 0):0}/s";
                }, cancellationToken).ConfigureAwait(false);
                _output.Console = null;
            }).ConfigureAwait(false);
    }

    private async Task PumpAsync(PythonPool pool, Stream sink, Action<long>? progress, CancellationToken cancellationToken)
    {
        var cap = pool.GetStatus().Size + pool.GetStatus().MaxOverflow;
        using var inFlight = new SemaphoreSlim(cap);

        // The reorder window: results wait here, in input order, until written.
        var pending = Channel.CreateBounded<Task<RunEntry>>(new BoundedChannelOptions(Math.Max(64, cap * 8)) { SingleReader = true, SingleWriter = true });
        var reader = Task.Run(
            async () =>
            {
                try
                {
                    long index = 0;
                    using var input = new StreamReader(settings.Input.FullName);
                    while (await input.ReadLineAsync(cancellationToken).ConfigureAwait(false) is { } line)
                    {
                        if (!string.IsNullOrWhiteSpace(line))
                        {
                            await pending.Writer.WriteAsync(CallAsync(pool, inFlight, index++, line, cancellationToken), cancellationToken).ConfigureAwait(false);
                        }
                    }
                }
                finally
                {
                    pending.Writer.Complete();
                }
            },
            cancellationToken);

        var writer = new RunWriter(sink);
        long done = 0;
        await foreach (var next in pending.Reader.ReadAllAsync(cancellationToken).ConfigureAwait(false))
        {
            var entry = await next.ConfigureAwait(false);
            await writer.WriteAsync(entry, cancellationToken).ConfigureAwait(false);
            _stats.Record(entry);
            progress?.Invoke(++done);
        }

        await reader.ConfigureAwait(false);
        await writer.FlushAsync(cancellationToken).ConfigureAwait(false);
    }

    private async Task<RunEntry> CallAsync(PythonPool pool, SemaphoreSlim inFlight, long index, string line, CancellationToken cancellationToken)
    {
        JsonElement argument;
        try
        {
            using var document = JsonDocument.Parse(line);
            argument = document.RootElement.Clone();
        }
        catch (JsonException e)
        {
            return RunEntry.Failure(index, "InvalidInput", $"line is not JSON: {e.Message}", TimeSpan.Zero);
        }

        await inFlight.WaitAsync(cancellationToken).ConfigureAwait(false);
        long started = Stopwatch.GetTimestamp();
        try
        {
            var result = await pool.CallAsync(settings.Target.Module, settings.Target.Function, [argument], cancellationToken: cancellationToken).ConfigureAwait(false);
            return RunEntry.Success(index, result, Stopwatch.GetElapsedTime(started));
        }
        catch (PythonException e)
        {
            return RunEntry.Failure(index, e.PythonType, e.PythonMessage, Stopwatch.GetElapsedTime(started));
        }
        catch (Exception e) when (e is PythonWorkerCrashedException or PythonProtocolException)
        {
            return RunEntry.Failure(index, "WorkerCrashed", e.Message, Stopwatch.GetElapsedTime(started));
        }
        catch (PythonCallTimeoutException e)
        {
            return RunEntry.Failure(index, "Timeout", e.Message, Stopwatch.GetElapsedTime(started));
        }
        catch (PythonSerializationException e)
        {
            return RunEntry.Failure(index, "InvalidInput", e.Message, Stopwatch.GetElapsedTime(started));
        }
        catch (Exception e) when (e is not OperationCanceledException)
        {
            // Whatever else went wrong is this input's error entry: one input never ends the run.
            return RunEntry.Failure(index, e.GetType().Name, e.Message, Stopwatch.GetElapsedTime(started));
        }
        finally
        {
            inFlight.Release();
        }
    }
}
