using System.Diagnostics;
using System.Globalization;
using System.Text.Json;

namespace Lifeguard.Benchmarks;

/// <summary>
/// One <c>python/stdlib_driver.py</c> process: Python's own process pool (<c>multiprocessing.Pool(1)</c>,
/// <c>ProcessPoolExecutor(1)</c> or <c>ProcessPoolExecutor(2)</c>) timed inside Python with
/// <c>time.perf_counter_ns</c>. It stays up for the whole scenario and answers one command per round, so its rounds
/// interleave with the host's; between rounds it waits on its stdin and costs no CPU. Not thread-safe.
/// </summary>
internal sealed class StdlibDriver : IAsyncDisposable
{
    private readonly Process _process;

    private StdlibDriver(Process process) => _process = process;

    /// <summary>
    /// Starts the driver of <paramref name="kind"/> (<c>apply</c>, <c>submit</c> or <c>pool2</c>) and waits until its
    /// pool is up and warm.
    /// </summary>
    public static async Task<StdlibDriver> StartAsync(string kind)
    {
        var driver = new StdlibDriver(await PythonBench.StartScriptAsync("stdlib_driver.py", kind));
        try
        {
            using var reply = await driver.ReadReplyAsync();
            if (!reply.RootElement.TryGetProperty("ready", out _))
            {
                throw new InvalidOperationException($"stdlib_driver.py {kind} did not report ready: {reply.RootElement.GetRawText()}");
            }

            return driver;
        }
        catch
        {
            await driver.DisposeAsync();
            throw;
        }
    }

    /// <summary>
    /// <c>apply</c>/<c>submit</c>: the median nanoseconds of <paramref name="calls"/> sequential round trips of
    /// <c>benchmod.square(x)</c>.
    /// </summary>
    public async Task<double> MedianRoundTripNsAsync(int calls, int x)
    {
        await SendAsync(string.Create(CultureInfo.InvariantCulture, $"{{\"calls\": {calls}, \"x\": {x}}}"));
        using var reply = await ReadReplyAsync();
        return reply.RootElement.GetProperty("median_ns").GetDouble();
    }

    /// <summary><c>pool2</c>: nanoseconds per call of <paramref name="calls"/> <c>benchmod.burn(n)</c> submitted at once.</summary>
    public async Task<double> PerCallNsAsync(int calls, int n)
    {
        await SendAsync(string.Create(CultureInfo.InvariantCulture, $"{{\"calls\": {calls}, \"n\": {n}}}"));
        using var reply = await ReadReplyAsync();
        return reply.RootElement.GetProperty("per_call_ns").GetDouble();
    }

    /// <summary>Closes the driver's input (it shuts its pool down and exits); kills its process tree if it lingers.</summary>
    public async ValueTask DisposeAsync() => await PythonBench.StopAsync(_process, TimeSpan.FromSeconds(10));

    private async Task SendAsync(string line)
    {
        await _process.StandardInput.WriteLineAsync(line);
        await _process.StandardInput.FlushAsync();
    }

    private async Task<JsonDocument> ReadReplyAsync()
    {
        using var timeout = new CancellationTokenSource(TimeSpan.FromSeconds(60));
        var line = await _process.StandardOutput.ReadLineAsync(timeout.Token)
            ?? throw new InvalidOperationException($"stdlib_driver.py (pid {_process.Id}) exited without replying.");
        return JsonDocument.Parse(line);
    }
}
