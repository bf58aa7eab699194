using System.Collections.Concurrent;
using Lifeguard.Testing;

namespace Lifeguard.Python.Tests;

/// <summary><see cref="PythonPoolOptions.OnOutput"/>: every line a worker writes, with its pid.</summary>
public sealed class PythonOutputTests : PythonTestBase
{
    [Fact]
    public async Task OnOutput_PrintFd1Fd2AndSubprocessLines_ArriveWithTheWorkersPid()
    {
        var lines = new ConcurrentQueue<PythonOutputLine>();
        var options = Options("onoutput");
        options.OnOutput = lines.Enqueue;
        await using var pool = await PythonPool.StartAsync(options);

        Assert.Equal(5, await pool.CallAsync<int>("fixtures", "talk", [5]));
        int pid = await pool.CallAsync<int>("fixtures", "subprocess_echo", ["from a child"]);
        await FakeWorkerFactory.WaitUntilAsync(() => lines.Any(l => l.Text == "from a child"), "the child's line arrives");

        var texts = lines.Select(l => l.Text).ToList();
        Assert.Equal(["printed 5", "raw fd1 write", "to stderr", "from a child"], texts);
        Assert.All(lines, l => Assert.Equal(pid, l.ProcessId));
        Assert.All(lines, l => Assert.Equal("onoutput", l.PoolName));
        Assert.Equal($"[pid {pid}] printed 5", lines.First().ToString());

        // Still logged, as without a handler.
        Assert.Contains(Logs.Entries, e => e.EventId.Id == 2200 && e.Message == $"[python {pid}] from a child");
    }

    [Fact]
    public async Task OnOutput_HandlerThrows_ContainedLoggedOnceAndStillCalled()
    {
        int calls = 0;
        var options = Options("throwing");
        options.OnOutput = _ =>
        {
            Interlocked.Increment(ref calls);
            throw new InvalidOperationException("handler broke");
        };
        await using var pool = await PythonPool.StartAsync(options);

        Assert.Equal(1, await pool.CallAsync<int>("fixtures", "talk", [1]));
        Assert.Equal(2, await pool.CallAsync<int>("fixtures", "talk", [2]));
        await FakeWorkerFactory.WaitUntilAsync(() => Volatile.Read(ref calls) == 6, "the handler is called for every line");

        var failures = Logs.Entries.Where(e => e.EventId.Id == 2201).ToList();
        var failure = Assert.Single(failures);
        Assert.Equal(Microsoft.Extensions.Logging.LogLevel.Warning, failure.Level);
        Assert.IsType<InvalidOperationException>(failure.Exception);
        Assert.Equal(6, Logs.Entries.Count(e => e.EventId.Id == 2200)); // every line still logged
        Assert.Equal(3, await pool.CallAsync<int>("fixtures", "echo", [3])); // the worker is unharmed
    }
}
