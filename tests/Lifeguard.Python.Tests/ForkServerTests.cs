using System.Net.Sockets;
using System.Security.Cryptography;
using Lifeguard.Testing;
using Microsoft.Extensions.Logging;
using Microsoft.Extensions.Time.Testing;

namespace Lifeguard.Python.Tests;

/// <summary>
/// <see cref="PythonStartMode.ForkServer"/> on real python3: workers forked from one template that imported the
/// modules once, with their own streams, exit status, memory ceiling, and the fallbacks to spawning.
/// </summary>
public sealed class ForkServerTests : PythonTestBase
{
    private PythonPoolOptions ForkOptions(string name, int size = 1)
    {
        var options = Options(name, size);
        options.StartMode = PythonStartMode.ForkServer;
        options.Preload.Add("forking");
        options.Preload.Add("fixtures");
        return options;
    }

    private static int TemplatePid(PythonPool pool) => pool.ForkServer?.TemplateProcessId ?? throw new InvalidOperationException("no template is up");

    [Fact]
    public async Task Calls_RunInWorkersForkedFromOneTemplate_ThatImportedThePreloadOnce()
    {
        await using var pool = await PythonPool.StartAsync(ForkOptions("fork-calls", size: 2));
        int template = TemplatePid(pool);

        await using var first = await pool.CheckoutAsync();
        await using var second = await pool.CheckoutAsync();
        foreach (var worker in new[] { first.Worker, second.Worker })
        {
            Assert.True(worker.IsForked);
            Assert.NotEqual(template, worker.ProcessId);
            Assert.Equal(template, await worker.CallAsync<int>("forking", "parent"));
            Assert.Equal(template, await worker.CallAsync<int>("forking", "imported_in"));
            Assert.Equal(worker.ProcessId, await worker.CallAsync<int>("fixtures", "pid"));
            Assert.Equal(49, await worker.CallAsync<int>("fixtures", "square", [7]));
        }
    }

    [Fact]
    public async Task InitFunctionAndEnvironment_AreAppliedInEachWorkerAfterTheFork()
    {
        var options = ForkOptions("fork-init", size: 2);
        options.InitFunction = "forking:init";
        options.Environment["LIFEGUARD_FORK_TEST"] = "set for workers";
        options.Environment["HOME"] = null;
        await using var pool = await PythonPool.StartAsync(options);

        await using var lease = await pool.CheckoutAsync();
        Assert.True(lease.Worker.IsForked);
        Assert.Equal(lease.Worker.ProcessId, await lease.Worker.CallAsync<int>("forking", "initialized_in"));
        Assert.Equal("set for workers", await lease.Worker.CallAsync<string>("fixtures", "env", ["LIFEGUARD_FORK_TEST"]));
        Assert.Null(await lease.Worker.CallAsync<string>("fixtures", "env", ["HOME"]));
    }

    [Fact]
    public async Task Crash_ReportNamesTheSignalOrTheExitCode_FromTheTemplate()
    {
        var options = ForkOptions("fork-crash");
        options.MaxRestarts = 100;
        await using var pool = await PythonPool.StartAsync(options);

        var segfault = await Assert.ThrowsAsync<PythonWorkerCrashedException>(() => pool.CallAsync<int>("forking", "segfault"));
        Assert.Equal(11, segfault.Signal);
        Assert.Equal(139, segfault.ExitCode);
        Assert.Contains("SIGSEGV", segfault.Message, StringComparison.Ordinal);

        var exited = await Assert.ThrowsAsync<PythonWorkerCrashedException>(() => pool.CallAsync<int>("fixtures", "exit_hard", [5]));
        Assert.Equal(5, exited.ExitCode);
        Assert.Null(exited.Signal);
    }

    [Fact]
    public async Task KillWorker_BusyWorkerCrashesWithSignal9_AndItsReplacementIsForked()
    {
        var options = ForkOptions("fork-kill");
        options.MaxRestarts = 100;
        await using var pool = await PythonPool.StartAsync(options);
        int template = TemplatePid(pool);
        int pid = await pool.CallAsync<int>("fixtures", "pid");
        var call = pool.CallAsync<double>("fixtures", "sleep", [30]);
        await FakeWorkerFactory.WaitUntilAsync(() => pool.GetStatus().Busy == 1, "the call is running");

        Assert.Equal(WorkerKillResult.Killed, await pool.KillWorkerAsync(pool.GetStatus().Workers[0].Id, "test"));

        var crash = await Assert.ThrowsAsync<PythonWorkerCrashedException>(() => call);
        Assert.Equal(9, crash.Signal);
        Assert.False(ProcessExists(pid));
        await using var lease = await pool.CheckoutAsync();
        Assert.NotEqual(pid, lease.Worker.ProcessId);
        Assert.True(lease.Worker.IsForked);
        Assert.Equal(template, await lease.Worker.CallAsync<int>("forking", "parent"));
    }

    [Fact]
    public async Task Interrupt_CancelledCallStopsAndTheForkedWorkerServesTheNextCall()
    {
        await using var pool = await PythonPool.StartAsync(ForkOptions("fork-cancel"));
        int pid = await pool.CallAsync<int>("fixtures", "pid");
        using var cancel = new CancellationTokenSource();
        var call = pool.CallAsync<double>("fixtures", "sleep", [30], cancellationToken: cancel.Token);
        await FakeWorkerFactory.WaitUntilAsync(() => pool.GetStatus().Busy == 1, "the call is running");

        await cancel.CancelAsync();

        await Assert.ThrowsAnyAsync<OperationCanceledException>(() => call);
        Assert.Equal(pid, await pool.CallAsync<int>("fixtures", "pid"));
    }

    [Fact]
    public async Task Output_PrintAndDescriptorWritesGoToTheWorkersOwnStream_NotTheProtocol()
    {
        var lines = new System.Collections.Concurrent.ConcurrentQueue<PythonOutputLine>();
        var options = ForkOptions("fork-output");
        options.OnOutput = lines.Enqueue;
        await using var pool = await PythonPool.StartAsync(options);
        int pid = await pool.CallAsync<int>("fixtures", "pid");

        Assert.Equal(3, await pool.CallAsync<int>("fixtures", "talk", [3]));

        await FakeWorkerFactory.WaitUntilAsync(() => lines.Count(l => l.ProcessId == pid) >= 3, "the worker's three lines arrive under its pid");
        Assert.Contains(lines, l => l.ProcessId == pid && l.Text == "printed 3");
        Assert.Contains(lines, l => l.ProcessId == pid && l.Text == "raw fd1 write");
    }

    [Fact]
    public async Task Descriptors_AForkedWorkerHoldsWhatASpawnedOneHolds()
    {
        await using var forked = await PythonPool.StartAsync(ForkOptions("fork-fds"));
        var spawnOptions = ForkOptions("spawn-fds");
        spawnOptions.StartMode = PythonStartMode.Spawn;
        await using var spawned = await PythonPool.StartAsync(spawnOptions);

        var forkedFds = await forked.CallAsync<int[]>("forking", "descriptors");
        var spawnedFds = await spawned.CallAsync<int[]>("forking", "descriptors");

        Assert.Equal(spawnedFds, forkedFds);
    }

    [Theory]
    [InlineData((byte)'P')]
    [InlineData((byte)'E')]
    public async Task Socket_AConnectionWithATokenNeverIssued_IsClosed_AndThePoolKeepsForking(byte tag)
    {
        var options = ForkOptions("fork-forged");
        options.MaxRestarts = 100;
        await using var pool = await PythonPool.StartAsync(options);
        using var forged = new Socket(AddressFamily.Unix, SocketType.Stream, ProtocolType.Unspecified);
        await forged.ConnectAsync(pool.ForkServer!.EndPoint);

        await forged.SendAsync(RandomNumberGenerator.GetBytes(16).Append(tag).ToArray());

        var buffer = new byte[1];
        using var bound = new CancellationTokenSource(TimeSpan.FromSeconds(20));
        Assert.Equal(0, await forged.ReceiveAsync(buffer, SocketFlags.None, bound.Token));
        int pid = await pool.CallAsync<int>("fixtures", "pid");
        Assert.Equal(WorkerKillResult.Killed, await pool.KillWorkerAsync(pool.GetStatus().Workers[0].Id, "test"));
        await using var lease = await pool.CheckoutAsync();
        Assert.NotEqual(pid, lease.Worker.ProcessId);
        Assert.True(lease.Worker.IsForked);
    }

    [Fact]
    public async Task Socket_IsAnAbstractName_SoNothingIsLeftOnDisk()
    {
        var before = Directory.GetFileSystemEntries(Path.GetTempPath(), "lifeguard-fork-*");
        await using var pool = await PythonPool.StartAsync(ForkOptions("fork-abstract"));
        await using (var lease = await pool.CheckoutAsync())
        {
            Assert.True(lease.Worker.IsForked);
        }

        string name = pool.ForkServer!.SocketPath;
        Assert.Matches("^@lifeguard-fork-[0-9a-f]{32}$", name);
        // The kernel lists it among the abstract names, "@" for its leading NUL byte; no file has it.
        Assert.Contains(name, await File.ReadAllTextAsync("/proc/net/unix"), StringComparison.Ordinal);
        Assert.Equal(before, Directory.GetFileSystemEntries(Path.GetTempPath(), "lifeguard-fork-*"));
    }

    [Fact]
    public async Task ThreadsInTheTemplate_PoolSpawnsWithAWarningNamingTheModule()
    {
        var options = ForkOptions("fork-threads");
        options.Preload.Add("forking_threads");
        await using var pool = await PythonPool.StartAsync(options);

        Assert.True(pool.ForkServer!.Disabled);
        Assert.Equal(Environment.ProcessId, await pool.CallAsync<int>("forking", "parent"));
        var warning = Assert.Single(Logs.Entries, e => e.EventId.Id == 2011);
        Assert.Equal(LogLevel.Warning, warning.Level);
        Assert.Contains("forking_threads", warning.Message, StringComparison.Ordinal);
        Assert.DoesNotContain("fixtures", warning.Message, StringComparison.Ordinal);
    }

    [Fact]
    public async Task TemplateDeath_WorkersAreSpawnedUntilItIsRestarted_ThenForkedAgain()
    {
        var restartClock = new FakeTimeProvider();
        var options = ForkOptions("fork-restart", size: 2);
        options.MaxRestarts = 100;
        options.ForkServerRestartTime = restartClock;
        await using var pool = await PythonPool.StartAsync(options);
        int first = TemplatePid(pool);

        ReliabilityKill(first);

        // Its workers die with it (their parent-death signal) and are replaced by spawned ones.
        await FakeWorkerFactory.WaitUntilAsync(
            () => pool.ForkServer!.TemplateProcessId is null && pool.GetStatus() is { Idle: 2, Starting: 0 } status
                && status.Workers.All(w => ParentOf(w.ProcessId!.Value) == Environment.ProcessId),
            "the workers are spawned while the template is down",
            timeoutMs: 30_000);
        Assert.Contains(Logs.Entries, e => e.EventId.Id == 2013);

        await FakeWorkerFactory.WaitUntilAsync(
            () =>
            {
                restartClock.Advance(TimeSpan.FromSeconds(1));
                return pool.ForkServer!.TemplateProcessId is not null;
            },
            "the template is restarted after its delay",
            timeoutMs: 30_000);
        int second = TemplatePid(pool);
        Assert.NotEqual(first, second);

        var victim = pool.GetStatus().Workers[0];
        Assert.Equal(WorkerKillResult.Killed, await pool.KillWorkerAsync(victim.Id, "test"));
        await FakeWorkerFactory.WaitUntilAsync(
            () => pool.GetStatus().Workers.Any(w => ParentOf(w.ProcessId!.Value) == second),
            "the replacement is forked by the new template",
            timeoutMs: 30_000);
    }

    [Fact]
    public async Task MemoryCeiling_ComparesPss_NotTheRssOfPagesSharedWithTheTemplate()
    {
        var options = ForkOptions("fork-memory", size: 2);
        options.Preload.Add("forking_ballast");
        options.MaxWorkerMemory = 60L * 1024 * 1024;
        await using var pool = await PythonPool.StartAsync(options);

        int pid;
        await using (var lease = await pool.CheckoutAsync())
        {
            pid = lease.Worker.ProcessId;
            var details = new Dictionary<string, object?>();
            lease.Worker.AddStatusDetails(details);
            long rss = (long)details["rss"]!;
            long pss = (long)details["pss"]!;
            Assert.True(rss > options.MaxWorkerMemory, $"RSS {rss} counts the 80 MiB shared with the template");
            Assert.True(pss < options.MaxWorkerMemory, $"PSS {pss} counts a third of them");
        }

        // Kept at checkin: under the ceiling by PSS.
        Assert.Equal(pid, await CallOnAsync(pool, pid));

        // Its own 80 MiB puts it over: retired at checkin.
        await using (var lease = await pool.CheckoutAsync())
        {
            pid = lease.Worker.ProcessId;
            await lease.Worker.CallAsync<int>("fixtures", "allocate", [80]);
        }

        // The ceiling is read at most every 100 ms per worker: a checkin sooner than that after the last reading keeps
        // the worker until a later one. Calls go on until it is retired (bounded).
        var bound = System.Diagnostics.Stopwatch.StartNew();
        while (pool.GetStatus().Workers.Any(w => w.ProcessId == pid))
        {
            Assert.True(bound.Elapsed < TimeSpan.FromSeconds(30), "the worker over the ceiling was not retired within 30 s of calls");
            await pool.CallAsync<int>("fixtures", "pid");
        }
    }

    /// <summary>Calls on the worker whose pid is <paramref name="pid"/> if it is still in the pool (of 2); -1 if not.</summary>
    private static async Task<int> CallOnAsync(PythonPool pool, int pid)
    {
        await using var a = await pool.CheckoutAsync();
        await using var b = await pool.CheckoutAsync();
        var worker = a.Worker.ProcessId == pid ? a.Worker : b.Worker;
        return worker.ProcessId == pid ? await worker.CallAsync<int>("fixtures", "pid") : -1;
    }

    private static int ParentOf(int pid) => ProcFs.ParentOf(pid) ?? -1;

    private static void ReliabilityKill(int pid) => NativeMethods.TrySignal(pid, NativeMethods.SIGKILL);
}
