using System.Diagnostics;
using System.Globalization;
using System.Text;
using System.Text.Json;
using System.Threading.Channels;
using Lifeguard.Python;
using Lifeguard.RabbitMQ;
using Spectre.Console;

namespace Lifeguard.Cli;

/// <summary>
/// One run: streams the input, calls the function for each line with at most the pool's cap in flight, and writes the
/// results in input order as they complete, flushed at least every 100 ms, so that however the run ends (even by
/// SIGKILL) the output is an ordered prefix of the full one. Memory stays bounded however large the input: a bounded
/// channel of pending results is the reorder window, lines are bytes read within the frame limit, and latency
/// percentiles come from a fixed-size sample. Not thread-safe; used once.
/// </summary>
internal sealed class RunJob(RunSettings settings, TextWriter error)
{
    private static readonly TimeSpan FlushInterval = TimeSpan.FromMilliseconds(100);
    private readonly RunStatistics _stats = new();
    private readonly RunOutputForwarder _output = new(error, TimeProvider.System);
    private long _read;
    private long _written;
    private PythonModuleNotAllowedException? _refusal;

    public async Task<int> RunAsync(CancellationToken cancellationToken)
    {
        using var forwarder = _output;
        using var interrupts = new RunInterrupts(settings.Grace, Notice, cancellationToken);
        if (settings.Dashboard is not { } request)
        {
            return await RunAsync(interrupts, registry: null).ConfigureAwait(false);
        }

        // Served before the pool starts, so that its workers can be watched starting, and a bad address is exit code 2
        // before anything is read; stopped once the run is over.
        var registry = new PoolRegistry();
        await using (registry.ConfigureAwait(false))
        {
            DashboardServer dashboard;
            try
            {
                dashboard = await DashboardServer.StartAsync(request, registry, _output.Say, interrupts.StopReading).ConfigureAwait(false);
            }
            catch (UsageException e)
            {
                await error.WriteLineAsync($"lifeguard run: {e.Message}").ConfigureAwait(false);
                return ExitCodes.Usage;
            }
            catch (OperationCanceledException) when (interrupts.Interrupted)
            {
                return await InterruptedAsync(interrupts, TimeSpan.Zero, pool: null).ConfigureAwait(false);
            }

            await using (dashboard.ConfigureAwait(false))
            {
                dashboard.Announce(_output.Say);
                return await RunAsync(interrupts, registry).ConfigureAwait(false);
            }
        }
    }

    private async Task<int> RunAsync(RunInterrupts interrupts, PoolRegistry? registry)
    {
        int maxFrameSize = settings.FrameLimit;
        var resume = ResumePoint.None;
        try
        {
            if (settings.Resume)
            {
                resume = await ResumePoint.LoadAsync(settings.Output!, settings.Input, ResumeLineLimit(maxFrameSize), interrupts.StopReading).ConfigureAwait(false);
                _stats.Keep(resume);
                if (resume.Complete && resume.FileLength == resume.Length)
                {
                    await error.WriteLineAsync($"lifeguard run: every input already has its entry in '{settings.Output}'; nothing to do.").ConfigureAwait(false);
                    await error.WriteLineAsync(_stats.Summary(TimeSpan.Zero, pool: null)).ConfigureAwait(false);
                    return _stats.Failed == 0 ? ExitCodes.Success : ExitCodes.SomeFailed;
                }
            }
        }
        catch (OperationCanceledException) when (interrupts.Interrupted)
        {
            return await InterruptedAsync(interrupts, TimeSpan.Zero, pool: null).ConfigureAwait(false);
        }

        var clock = Stopwatch.StartNew();
        IRunPool pool;
        try
        {
            if (await StartPoolAsync(interrupts, registry).ConfigureAwait(false) is not { } started)
            {
                return ExitCodes.Usage; // reported; no input was read
            }

            pool = started;
        }
        catch (OperationCanceledException) when (interrupts.Interrupted)
        {
            return await InterruptedAsync(interrupts, clock.Elapsed, pool: null).ConfigureAwait(false);
        }

        await using (pool.ConfigureAwait(false))
        {
            Stream sink;
            try
            {
                sink = OpenSink(resume);
            }
            catch (Exception e) when (e is IOException or UnauthorizedAccessException)
            {
                // Checked before the pool started (RunPaths); this is the path changing since.
                await error.WriteLineAsync($"lifeguard run: cannot write --output '{settings.Output}': {e.Message}").ConfigureAwait(false);
                return ExitCodes.Usage;
            }

            Exception? writeFailure;
            await using (sink.ConfigureAwait(false))
            {
                writeFailure = Console.IsErrorRedirected
                    ? await PumpAsync(pool, sink, interrupts, resume.Entries, maxFrameSize, progress: null).ConfigureAwait(false)
                    : await WithProgressAsync(pool, sink, interrupts, resume.Entries, maxFrameSize).ConfigureAwait(false);
            }

            var (elapsed, status) = (clock.Elapsed, pool.Summary());
            await pool.StopAsync().ConfigureAwait(false); // its workers' last lines are forwarded first
            _output.Complete();
            if (writeFailure is not null)
            {
                await error.WriteLineAsync($"lifeguard run: cannot write the results: {writeFailure.Message}").ConfigureAwait(false);
                await error.WriteLineAsync(_stats.Summary(elapsed, status)).ConfigureAwait(false);
                return ExitCodes.SomeFailed;
            }

            if (_refusal is { } refusal)
            {
                // Nothing is written for the refused input or after it: --resume runs them once the hosts serve the module.
                await error.WriteLineAsync(string.Create(
                    CultureInfo.InvariantCulture,
                    $"lifeguard run: the pool refused {settings.Label}: {refusal.Message}; stopped after {_written} results (--resume continues from there).")).ConfigureAwait(false);
                await error.WriteLineAsync(_stats.Summary(elapsed, status)).ConfigureAwait(false);
                return ExitCodes.Usage;
            }

            if (interrupts.Interrupted)
            {
                return await InterruptedAsync(interrupts, elapsed, status).ConfigureAwait(false);
            }

            await error.WriteLineAsync(_stats.Summary(elapsed, status)).ConfigureAwait(false);
        }

        return _stats.Failed == 0 ? ExitCodes.Success : ExitCodes.SomeFailed;
    }

    /// <summary>The run's pool, started and checked; <see langword="null"/> when it could not be, reported on stderr.</summary>
    private async Task<IRunPool?> StartPoolAsync(RunInterrupts interrupts, PoolRegistry? registry)
    {
        if (settings.Remote is { } remote)
        {
            return await RemoteRunPool.StartAsync(settings, remote, _output.Say, error, interrupts.StopReading).ConfigureAwait(false);
        }

        if (await RunTarget.StartAsync(settings, _output, error, interrupts.StopReading).ConfigureAwait(false) is not { } started)
        {
            return null;
        }

        registry?.Add(started.Pool);
        return new LocalRunPool(started.Pool, started.Generator);
    }

    /// <summary>Says, as each signal is handled, what happens next.</summary>
    private void Notice(bool again)
    {
        _output.Say(again
            ? "lifeguard run: interrupted again; cancelling the calls in flight now."
            : string.Create(CultureInfo.InvariantCulture, $"lifeguard run: interrupted; reading no more input, letting the calls in flight finish (up to {settings.Grace.TotalSeconds:0.###} s; interrupt again to cancel them now)."));
    }

    /// <summary>Entries are written by this command, so a line longer than a result frame can carry is not one of them.</summary>
    private static long ResumeLineLimit(int maxFrameSize) => (2L * maxFrameSize) + (64 * 1024);

    private async Task<int> InterruptedAsync(RunInterrupts interrupts, TimeSpan elapsed, string? pool)
    {
        await error.WriteLineAsync(_stats.Summary(elapsed, pool)).ConfigureAwait(false);
        await error.WriteLineAsync(string.Create(CultureInfo.InvariantCulture, $"interrupted: {_written} results written, {_read} inputs read")).ConfigureAwait(false);
        return interrupts.ExitCode;
    }

    /// <summary>The output: standard output, a new file, or (resuming) the existing file cut to its complete entries.</summary>
    private Stream OpenSink(ResumePoint resume)
    {
        if (settings.Output is null)
        {
            return new BufferedStream(Console.OpenStandardOutput(), 64 * 1024);
        }

        if (!settings.Resume)
        {
            return new FileStream(settings.Output.FullName, FileMode.Create, FileAccess.Write, FileShare.Read, 64 * 1024);
        }

        var file = new FileStream(settings.Output.FullName, FileMode.OpenOrCreate, FileAccess.Write, FileShare.Read, 64 * 1024);
        try
        {
            if (file.Length != resume.Length)
            {
                file.SetLength(resume.Length); // the torn last line of a killed run
            }

            file.Position = resume.Length;
            return file;
        }
        catch
        {
            file.Dispose();
            throw;
        }
    }

    /// <summary>A progress bar with rate and ETA and a live pool status line, on stderr, when stderr is a terminal.</summary>
    private async Task<Exception?> WithProgressAsync(IRunPool pool, Stream sink, RunInterrupts interrupts, long skip, int maxFrameSize)
    {
        long total = 0;
        using (var input = RunInput.Open(settings.Input.FullName, 0))
        {
            try
            {
                while (await input.NextAsync(read: false, interrupts.StopReading).ConfigureAwait(false) is not null)
                {
                    total++;
                }
            }
            catch (OperationCanceledException) when (interrupts.Interrupted)
            {
                return null;
            }
        }

        Exception? failure = null;
        var console = AnsiConsole.Create(new AnsiConsoleSettings { Out = new AnsiConsoleOutput(Console.Error) });
        await console.Progress()
            .Columns(new TaskDescriptionColumn(), new ProgressBarColumn(), new PercentageColumn(), new RemainingTimeColumn(), new SpinnerColumn())
            .StartAsync(async context =>
            {
                _output.Console = console; // lines are printed above the progress display while it runs
                var task = context.AddTask(settings.Label, maxValue: Math.Max(1, total - skip));
                failure = await PumpAsync(pool, sink, interrupts, skip, maxFrameSize, done =>
                {
                    task.Value = done;
                    task.Description = $"{settings.Target.Function} {pool.Describe()} {done / Math.Max(0.001, task.ElapsedTime?.TotalSeconds ?? 0):0}/s";
                }).ConfigureAwait(false);
                _output.Console = null;
            }).ConfigureAwait(false);
        return failure;
    }

    /// <summary>
    /// Reads, calls and writes until the input ends or an interrupt stops the reading. Entries are written in input
    /// order; the first input without one (never started, or cancelled once the grace period was over) ends the
    /// writing, so the output stays an ordered prefix. Returns the exception that stopped the writing, if any.
    /// </summary>
    private async Task<Exception?> PumpAsync(IRunPool pool, Stream sink, RunInterrupts interrupts, long skip, int maxFrameSize, Action<long>? progress)
    {
        // The reorder window: results wait here, in input order, until written.
        var pending = Channel.CreateBounded<Pending>(new BoundedChannelOptions(pool.Window) { SingleReader = true, SingleWriter = true });
        var reader = Task.Run(() => ReadAsync(pool, pending.Writer, interrupts, skip, maxFrameSize), CancellationToken.None);

        var writer = new RunWriter(sink);
        Exception? failure = null;
        bool ended = false; // an input without an entry was reached: nothing after it is written
        bool dirty = false;
        long flushed = Stopwatch.GetTimestamp();
        while (true)
        {
            if (!pending.Reader.TryRead(out var next))
            {
                // Nothing to write yet: what was written goes out before waiting.
                failure ??= await FlushAsync(dirty).ConfigureAwait(false);
                dirty = false;
                if (!await pending.Reader.WaitToReadAsync(CancellationToken.None).ConfigureAwait(false))
                {
                    break;
                }

                continue;
            }

            if (next.Items is { } items)
            {
                // A generator's input: its entries are written as they come, and it is complete with its closing
                // (or error) entry. The reader is drained whatever happens, so that its call never waits on it.
                bool complete = false;
                while (true)
                {
                    if (!items.TryRead(out var item))
                    {
                        if (dirty)
                        {
                            failure ??= await FlushAsync(dirty).ConfigureAwait(false);
                            dirty = false;
                            flushed = Stopwatch.GetTimestamp();
                        }

                        if (!await items.WaitToReadAsync(CancellationToken.None).ConfigureAwait(false))
                        {
                            break;
                        }

                        continue;
                    }

                    if (!ended && failure is null)
                    {
                        await WriteAsync(item).ConfigureAwait(false);
                        complete = item.Completes;
                    }
                }

                await next.Entry.ConfigureAwait(false);
                ended |= !complete;
                continue;
            }

            if (!next.Entry.IsCompleted && dirty)
            {
                failure ??= await FlushAsync(dirty).ConfigureAwait(false);
                dirty = false;
                flushed = Stopwatch.GetTimestamp();
            }

            var entry = await ((Task<RunEntry?>)next.Entry).ConfigureAwait(false);
            if (ended || entry is null || failure is not null)
            {
                ended = true;
                continue;
            }

            await WriteAsync(entry).ConfigureAwait(false);
        }

        await reader.ConfigureAwait(false);
        failure ??= await FlushAsync(dirty).ConfigureAwait(false);
        return failure;

        async Task WriteAsync(RunEntry entry)
        {
            try
            {
                await writer.WriteAsync(entry, CancellationToken.None).ConfigureAwait(false);
                dirty = true;
                _stats.Record(entry);
                if (entry.Completes)
                {
                    _written++;
                    progress?.Invoke(_written);
                }

                if (Stopwatch.GetElapsedTime(flushed) >= FlushInterval)
                {
                    await writer.FlushAsync(CancellationToken.None).ConfigureAwait(false);
                    dirty = false;
                    flushed = Stopwatch.GetTimestamp();
                }
            }
            catch (IOException e)
            {
                failure = e;
                interrupts.Abort();
            }
        }

        async Task<Exception?> FlushAsync(bool needed)
        {
            if (!needed || failure is not null)
            {
                return null;
            }

            try
            {
                await writer.FlushAsync(CancellationToken.None).ConfigureAwait(false);
                return null;
            }
            catch (IOException e)
            {
                interrupts.Abort();
                return e;
            }
        }
    }

    private async Task ReadAsync(IRunPool pool, ChannelWriter<Pending> pending, RunInterrupts interrupts, long skip, int maxFrameSize)
    {
        try
        {
            using var input = RunInput.Open(settings.Input.FullName, maxFrameSize);
            for (long i = 0; i < skip && await input.NextAsync(read: false, interrupts.StopReading).ConfigureAwait(false) is not null; i++)
            {
                // Inputs that already have their entries (--resume).
            }

            while (await input.NextAsync(read: true, interrupts.StopReading).ConfigureAwait(false) is { } line)
            {
                if (pool.Streams)
                {
                    var items = Channel.CreateBounded<RunEntry>(new BoundedChannelOptions(ItemsPerInput) { SingleReader = true, SingleWriter = true });
                    await pending.WriteAsync(new Pending(StreamAsync(pool, line, maxFrameSize, interrupts, items.Writer), items.Reader), interrupts.StopReading).ConfigureAwait(false);
                }
                else
                {
                    await pending.WriteAsync(new Pending(CallAsync(pool, line, maxFrameSize, interrupts), null), interrupts.StopReading).ConfigureAwait(false);
                }

                _read++;
            }
        }
        catch (OperationCanceledException) when (interrupts.StopReading.IsCancellationRequested)
        {
            // Interrupted: no more input is read.
        }
        finally
        {
            pending.Complete();
        }
    }

    /// <summary>This input's entry, or null when it has none: it never started, or was cancelled after an interrupt.</summary>
    private async Task<RunEntry?> CallAsync(IRunPool pool, InputLine line, int maxFrameSize, RunInterrupts interrupts)
    {
        if (Parse(line, maxFrameSize, out var argument) is { } invalid)
        {
            return invalid;
        }

        if (!await AcquireAsync(pool, interrupts).ConfigureAwait(false))
        {
            return null;
        }

        var inFlight = pool.Slots;
        long started = Stopwatch.GetTimestamp();
        try
        {
            var result = await pool.Caller.CallAsync(settings.Target.Module, settings.Target.Function, [argument], cancellationToken: interrupts.CancelCalls).ConfigureAwait(false);
            return RunEntry.Success(line, result, Stopwatch.GetElapsedTime(started));
        }
        catch (PythonModuleNotAllowedException e)
        {
            Refused(e, interrupts);
            return null;
        }
        catch (Exception e) when (e is not OperationCanceledException || !interrupts.CancelCalls.IsCancellationRequested)
        {
            return Failure(line, e, Stopwatch.GetElapsedTime(started), maxFrameSize);
        }
        catch (OperationCanceledException)
        {
            return null;
        }
        finally
        {
            inFlight.Release();
        }
    }

    /// <summary>
    /// A generator function's input: an entry per item into <paramref name="entries"/> as they come (the writer takes
    /// them in input order; a full buffer holds the generator back by its stream's credit), then the closing entry,
    /// or an error entry after the items. No closing entry when the stream was cancelled after an interrupt. Retries
    /// never replay a stream.
    /// </summary>
    private async Task StreamAsync(IRunPool pool, InputLine line, int maxFrameSize, RunInterrupts interrupts, ChannelWriter<RunEntry> entries)
    {
        try
        {
            if (Parse(line, maxFrameSize, out var argument) is { } invalid)
            {
                await entries.WriteAsync(invalid, CancellationToken.None).ConfigureAwait(false);
                return;
            }

            if (!await AcquireAsync(pool, interrupts).ConfigureAwait(false))
            {
                return;
            }

            var inFlight = pool.Slots;
            long started = Stopwatch.GetTimestamp();
            long items = 0;
            RunEntry? last;
            try
            {
                await foreach (var item in pool.Caller.StreamAsync(settings.Target.Module, settings.Target.Function, [argument], cancellationToken: interrupts.CancelCalls).ConfigureAwait(false))
                {
                    await entries.WriteAsync(RunEntry.Yielded(line, items++, item), CancellationToken.None).ConfigureAwait(false);
                }

                last = RunEntry.Closing(line, items, Stopwatch.GetElapsedTime(started));
            }
            catch (PythonModuleNotAllowedException e)
            {
                // Refused before any item (a host checks the module first): the input has no entry.
                Refused(e, interrupts);
                last = null;
            }
            catch (Exception e) when (e is not OperationCanceledException || !interrupts.CancelCalls.IsCancellationRequested)
            {
                last = Failure(line, e, Stopwatch.GetElapsedTime(started), maxFrameSize);
            }
            catch (OperationCanceledException)
            {
                last = null;
            }
            finally
            {
                inFlight.Release();
            }

            if (last is not null)
            {
                await entries.WriteAsync(last, CancellationToken.None).ConfigureAwait(false);
            }
        }
        finally
        {
            entries.Complete();
        }
    }

    /// <summary>
    /// Takes an in-flight slot, and waits until the call can be sent; false (no slot held) when the reading stopped
    /// first: the input never started and has no entry.
    /// </summary>
    private static async Task<bool> AcquireAsync(IRunPool pool, RunInterrupts interrupts)
    {
        try
        {
            await pool.Slots.WaitAsync(interrupts.StopReading).ConfigureAwait(false);
        }
        catch (OperationCanceledException)
        {
            return false;
        }

        try
        {
            await pool.ReadyAsync(interrupts.StopReading).ConfigureAwait(false);
            return true;
        }
        catch (OperationCanceledException)
        {
            pool.Slots.Release();
            return false;
        }
    }

    /// <summary>The pool does not serve the module or function: the run stops at the first refusal, with exit code 2.</summary>
    private void Refused(PythonModuleNotAllowedException e, RunInterrupts interrupts)
    {
        Interlocked.CompareExchange(ref _refusal, e, null);
        interrupts.StopReadingOnly();
    }

    /// <summary>The input's argument, or (returned) its error entry when the line is too large or not JSON.</summary>
    private static RunEntry? Parse(InputLine line, int maxFrameSize, out RawJson? argument)
    {
        argument = null;
        if (line.Bytes is null)
        {
            return RunEntry.Failure(line, "InputTooLarge", TooLarge(line, maxFrameSize), TimeSpan.Zero);
        }

        try
        {
            argument = RawJson.Parse(line.Bytes);
            return null;
        }
        catch (JsonException e)
        {
            return RunEntry.Failure(line, "InvalidInput", InvalidJson(line, e), TimeSpan.Zero);
        }
    }

    /// <summary>The error entry for an input whose call failed: one input never ends the run.</summary>
    private static RunEntry Failure(InputLine line, Exception e, TimeSpan latency, int maxFrameSize) => e switch
    {
        PythonException python => RunEntry.Failure(line, python.PythonType, python.PythonMessage, latency),
        PythonWorkerCrashedException or PythonProtocolException => RunEntry.Failure(line, "WorkerCrashed", e.Message, latency),
        PythonCallTimeoutException => RunEntry.Failure(line, "Timeout", e.Message, latency),
        PythonPoisonInputException => RunEntry.Failure(line, "Poison", e.Message, latency),
        RemoteHostLostException => RunEntry.Failure(line, "RemoteHostLost", e.Message, latency),
        BrokerUnavailableException => RunEntry.Failure(line, "BrokerUnavailable", e.Message, latency),
        PythonSerializationException when line.Length > maxFrameSize - FrameOverhead
            => RunEntry.Failure(line, "InputTooLarge", $"{TooLarge(line, maxFrameSize)} ({e.Message})", latency),
        PythonSerializationException => RunEntry.Failure(line, "InvalidInput", e.Message, latency),
        _ => RunEntry.Failure(line, e.GetType().Name, e.Message, latency),
    };

    /// <summary>How many entries of one generator's input wait for the writer before its stream is held back.</summary>
    private const int ItemsPerInput = 64;

    /// <summary>An input in the reorder window: its entry, or for a generator function the reader of its entries.</summary>
    private readonly record struct Pending(Task Entry, ChannelReader<RunEntry>? Items);

    /// <summary>Room a call frame takes besides its argument: header, module and function names, trace context.</summary>
    private const int FrameOverhead = 4096;

    private static string TooLarge(InputLine line, int maxFrameSize)
        => string.Create(CultureInfo.InvariantCulture, $"line {line.Number} is {line.Length} bytes, more than a frame can carry (--max-frame-size {Sizes.Format(maxFrameSize)})");

    /// <summary>The JSON reader's reason, placed by the line's number in the file and the column (in characters, from 1).</summary>
    private static string InvalidJson(InputLine line, JsonException e)
    {
        var reason = e.Message;
        int cut = reason.IndexOf(" LineNumber:", StringComparison.Ordinal);
        if (cut > 0)
        {
            reason = reason[..cut];
        }

        long bytes = Math.Clamp(e.BytePositionInLine ?? 0, 0, line.Bytes!.Length);
        int column = Encoding.UTF8.GetCharCount(line.Bytes, 0, (int)bytes) + 1;
        return string.Create(CultureInfo.InvariantCulture, $"line {line.Number}, column {column}: not JSON: {reason}");
    }
}
