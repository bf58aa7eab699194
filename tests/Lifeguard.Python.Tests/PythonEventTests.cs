using Lifeguard.Testing;

namespace Lifeguard.Python.Tests;

/// <summary>Events, worker facts and kills with real python3 workers: exit codes, signals, stderr, pids, memory, calls.</summary>
public sealed class PythonEventTests : PythonTestBase
{
    [Fact]
    public async Task WorkerDied_ProcessExits_EventHasExitCodeStderrTailAndPidThenReplacementHasANewPid()
    {
        await using var pool = await PythonPool.StartAsync(Options("ev-exit"));
        using var events = pool.SubscribeToEvents();
        int pid = await pool.CallAsync<int>("fixtures", "pid");
        await pool.CallAsync<int>("fixtures", "talk", [1]);

        await Assert.ThrowsAsync<PythonWorkerCrashedException>(() => pool.CallAsync<int>("fixtures", "exit_hard", [3]));

        var seen = await events.ReadUntilAsync(e => e.Kind == PoolEventKind.WorkerStarted);
        var died = seen.Single(e => e.Kind == PoolEventKind.WorkerDied);
        Assert.Equal(pid, died.ProcessId);
        Assert.Equal(1, died.WorkerId);
        Assert.Equal(3, died.ExitCode);
        Assert.Null(died.Signal);
        Assert.Contains(died.OutputTail, line => line.Contains("printed 1", StringComparison.Ordinal));
        Assert.IsType<PythonWorkerCrashedException>(died.Error);
        Assert.Equal($"Worker 1 (pid {pid}) died: exit code 3.", died.Detail);
        var started = seen[^1];
        Assert.Equal(2, started.WorkerId);
        Assert.NotNull(started.ProcessId);
        Assert.NotEqual(pid, started.ProcessId);
        Assert.Equal(started.ProcessId, await pool.CallAsync<int>("fixtures", "pid"));
    }

    [Fact]
    public async Task WorkerDied_KilledBySignal_EventHasTheSignal()
    {
        await using var pool = await PythonPool.StartAsync(Options("ev-signal"));
        using var events = pool.SubscribeToEvents();

        await Assert.ThrowsAsync<PythonWorkerCrashedException>(() => pool.CallAsync<int>("fixtures", "kill_self"));

        var died = await events.NextAsync(PoolEventKind.WorkerDied);
        Assert.Equal(9, died.Signal);
        Assert.Equal(137, died.ExitCode);
        Assert.EndsWith("died: killed by signal 9 (exit code 137).", died.Detail, StringComparison.Ordinal);
    }

    [Fact]
    public async Task GetStatus_PythonWorker_PidMemoryAndCurrentCall()
    {
        await using var pool = await PythonPool.StartAsync(Options("ev-facts"));
        int pid = await pool.CallAsync<int>("fixtures", "pid");

        var idle = pool.GetStatus().Workers.Single();
        Assert.Equal(pid, idle.ProcessId);
        Assert.True(idle.ResidentMemoryBytes > 1024 * 1024, $"a python3 process has more than 1 MiB resident: {idle.ResidentMemoryBytes}");
        Assert.Null(idle.CurrentCall);

        using var cts = new CancellationTokenSource();
        var call = pool.CallAsync<double>("fixtures", "sleep", [30], cancellationToken: cts.Token);
        await FakeWorkerFactory.WaitUntilAsync(() => pool.GetStatus().Workers.Single().CurrentCall is not null, "the call shows in the status");
        var busy = pool.GetStatus().Workers.Single();
        Assert.Equal("fixtures.sleep", busy.CurrentCall!.Name);
        Assert.True(busy.CurrentCall.Elapsed >= TimeSpan.Zero);
        Assert.Equal(WorkerState.Busy, busy.State);
        cts.Cancel();
        await Assert.ThrowsAnyAsync<OperationCanceledException>(() => call);
        Assert.Null(pool.GetStatus().Workers.Single().CurrentCall);
    }

    [Fact]
    public async Task GetStatus_PythonWorker_OutputTailHasWhatItPrintedAsText()
    {
        await using var pool = await PythonPool.StartAsync(Options("ev-tail"));
        Assert.Empty(pool.GetStatus().Workers.Single().OutputTail);

        await pool.CallAsync<int>("fixtures", "talk", [7]);

        // The pump reads stderr on its own thread: the lines arrive shortly after the call returns.
        string[] written = ["printed 7", "raw fd1 write", "to stderr"];
        await FakeWorkerFactory.WaitUntilAsync(
            () => written.All(pool.GetStatus().Workers.Single().OutputTail.Contains), "the output reaches the status");
        var tail = pool.GetStatus().Workers.Single().OutputTail;
        Assert.Equal(3, tail.Count);
        Assert.Equal(written.Order(StringComparer.Ordinal), tail.Order(StringComparer.Ordinal));
    }

    [Fact]
    public async Task KillWorkerAsync_IdleWorker_ProcessGoneReplacementWithANewPid()
    {
        var options = Options("ev-kill", size: 2);
        options.MaxRestarts = 0; // a kill counted as a failure would put the pool into backoff
        await using var pool = await PythonPool.StartAsync(options);
        using var events = pool.SubscribeToEvents();
        var victim = pool.GetStatus().Workers[0];
        int pid = victim.ProcessId!.Value;
        Assert.True(ProcessExists(pid));

        var result = await pool.KillWorkerAsync(victim.Id, "test");

        Assert.Equal(WorkerKillResult.Killed, result);
        Assert.False(ProcessExists(pid), "the killed process is gone by the time the kill returns");
        var seen = await events.ReadUntilAllAsync(PoolEventKind.WorkerKilled, PoolEventKind.WorkerStopped, PoolEventKind.WorkerStarted);
        var killed = seen.Single(e => e.Kind == PoolEventKind.WorkerKilled);
        Assert.Equal(victim.Id, killed.WorkerId);
        Assert.Equal(pid, killed.ProcessId);
        Assert.Equal(9, killed.Signal);
        Assert.Equal(137, killed.ExitCode);
        Assert.Equal("test", killed.Source);
        var started = seen.Single(e => e.Kind == PoolEventKind.WorkerStarted);
        Assert.NotEqual(pid, started.ProcessId);
        await FakeWorkerFactory.WaitUntilAsync(() => pool.GetStatus().Idle == 2, "the killed worker is replaced");
        var status = pool.GetStatus();
        Assert.Equal(PoolState.Ready, status.State);
        Assert.Equal(0, status.TotalDeaths);
        Assert.DoesNotContain(status.Workers, w => w.ProcessId == pid);
        Assert.Contains(status.Workers, w => w.ProcessId == started.ProcessId && ProcessExists(w.ProcessId!.Value));
    }

    [Fact]
    public async Task KillWorkerAsync_BusyWorker_CallFailsAsACrashAndTheNextCallRunsOnANewProcess()
    {
        await using var pool = await PythonPool.StartAsync(Options("ev-kill-busy"));
        int pid = await pool.CallAsync<int>("fixtures", "pid");
        var call = pool.CallAsync<double>("fixtures", "sleep", [30]);
        await FakeWorkerFactory.WaitUntilAsync(() => pool.GetStatus().Workers.Single().CurrentCall is not null, "the call runs");

        Assert.Equal(WorkerKillResult.Killed, await pool.KillWorkerAsync(pool.GetStatus().Workers.Single().Id));

        var crash = await Assert.ThrowsAsync<PythonWorkerCrashedException>(() => call);
        Assert.Equal(9, crash.Signal);
        Assert.False(ProcessExists(pid));
        int next = await pool.CallAsync<int>("fixtures", "pid");
        Assert.NotEqual(pid, next);
    }

    [Fact]
    public async Task KillWorkerAsync_UnknownIdAndStoppedPool()
    {
        var pool = await PythonPool.StartAsync(Options("ev-kill-unknown"));
        Assert.Equal(WorkerKillResult.NotFound, await pool.KillWorkerAsync(42));
        await pool.DisposeAsync();
        Assert.Equal(WorkerKillResult.PoolStopped, await pool.KillWorkerAsync(1));
    }
}
