using Lifeguard.Testing;

namespace Lifeguard.Python.Tests;

public sealed class PythonFailureTests : PythonTestBase
{
    [Fact]
    public async Task CallAsync_ProcessExits_CrashExceptionWithExitCodeAndOutput_WorkerReplaced()
    {
        await using var pool = await PythonPool.StartAsync(Options("exit"));
        int before = await pool.CallAsync<int>("fixtures", "pid");
        await pool.CallAsync<int>("fixtures", "talk", [1]);
        var crash = await Assert.ThrowsAsync<PythonWorkerCrashedException>(() => pool.CallAsync<int>("fixtures", "exit_hard", [3]));
        Assert.Equal(3, crash.ExitCode);
        Assert.Null(crash.Signal);
        Assert.Equal(before, crash.ProcessId);
        Assert.Contains("printed 1", crash.StderrTail);
        Assert.Contains("fixtures.exit_hard", crash.Message);
        await FakeWorkerFactory.WaitUntilAsync(() => pool.GetStatus().Idle == 1, "the worker is replaced");
        int after = await pool.CallAsync<int>("fixtures", "pid");
        Assert.NotEqual(before, after);
        Assert.False(ProcessExists(before));
        Assert.Equal(1, pool.GetStatus().TotalDeaths);
    }

    [Fact]
    public async Task CallAsync_ProcessKilledBySignal_CrashExceptionNamesSignal()
    {
        await using var pool = await PythonPool.StartAsync(Options("sigkill"));
        var crash = await Assert.ThrowsAsync<PythonWorkerCrashedException>(() => pool.CallAsync<int>("fixtures", "kill_self"));
        Assert.Equal(9, crash.Signal);
        Assert.Contains("SIGKILL", crash.Message);
        await FakeWorkerFactory.WaitUntilAsync(() => pool.GetStatus().Idle == 1, "the worker is replaced");
        Assert.Equal(4, await pool.CallAsync<int>("fixtures", "square", [2]));
    }

    [Fact]
    public async Task CallAsync_Hangs_TimeoutInterruptsAndWorkerIsKept()
    {
        var options = TimeoutOptions("hang");
        await using var pool = await PythonPool.StartAsync(options);
        int pid = await pool.CallAsync<int>("fixtures", "pid");
        var timeout = await Assert.ThrowsAsync<PythonCallTimeoutException>(() => pool.CallAsync<double>("fixtures", "sleep", [30]));
        Assert.False(timeout.WorkerKilled);
        Assert.Equal("fixtures.sleep", timeout.Function);
        Assert.IsAssignableFrom<TimeoutException>(timeout);
        Assert.Equal(pid, await pool.CallAsync<int>("fixtures", "pid"));
    }

    [Fact]
    public async Task CallAsync_IgnoresInterrupt_KilledAfterGraceAndReplaced()
    {
        var options = TimeoutOptions("stubborn");
        options.CancelGracePeriod = TimeSpan.FromSeconds(1);
        await using var pool = await PythonPool.StartAsync(options);
        int pid = await pool.CallAsync<int>("fixtures", "pid");
        var timeout = await Assert.ThrowsAsync<PythonCallTimeoutException>(() => pool.CallAsync<string>("fixtures", "ignore_interrupts", [30]));
        Assert.True(timeout.WorkerKilled);
        await FakeWorkerFactory.WaitUntilAsync(() => !ProcessExists(pid), "the stubborn worker is gone");
        int next = await pool.CallAsync<int>("fixtures", "pid");
        Assert.NotEqual(pid, next);
    }

    [Fact]
    public async Task CallAsync_CallerCancels_OperationCanceledWithCallersTokenAndWorkerKept()
    {
        await using var pool = await PythonPool.StartAsync(Options("cancel"));
        int pid = await pool.CallAsync<int>("fixtures", "pid");
        using var cts = new CancellationTokenSource();
        var call = pool.CallAsync<double>("fixtures", "sleep", [30], cancellationToken: cts.Token);
        await FakeWorkerFactory.WaitUntilAsync(() => pool.GetStatus().Workers.Any(w => w.Details.ContainsKey("call")), "the call is running");
        cts.Cancel();
        var canceled = await Assert.ThrowsAnyAsync<OperationCanceledException>(() => call);
        Assert.Equal(cts.Token, canceled.CancellationToken);
        Assert.Equal(pid, await pool.CallAsync<int>("fixtures", "pid"));
    }

    [Fact]
    public async Task CallAsync_WorkerCrashesAfterCallerCancelled_OperationCanceled_NotRetried()
    {
        var options = Options("cancel-crash");
        options.MaxRetries = 3;
        await using var pool = await PythonPool.StartAsync(options);
        using var cts = new CancellationTokenSource();
        var call = pool.CallAsync<double>("fixtures", "exit_on_interrupt", [30], cancellationToken: cts.Token);
        await FakeWorkerFactory.WaitUntilAsync(() => pool.GetStatus().Workers.Any(w => w.Details.ContainsKey("call")), "the call is running");
        long checkouts = pool.GetStatus().TotalCheckouts;
        cts.Cancel();

        // The caller asked to stop: it gets its cancellation, not a crash, and the call is not retried.
        var canceled = await Assert.ThrowsAnyAsync<OperationCanceledException>(() => call);
        Assert.Equal(cts.Token, canceled.CancellationToken);
        Assert.Equal(checkouts, pool.GetStatus().TotalCheckouts);
    }

    [Fact]
    public async Task CallAsync_AsyncFunctionCancelled_WorkerKept()
    {
        var options = TimeoutOptions("async-cancel");
        await using var pool = await PythonPool.StartAsync(options);
        int pid = await pool.CallAsync<int>("fixtures", "pid");
        var timeout = await Assert.ThrowsAsync<PythonCallTimeoutException>(() => pool.CallAsync<double>("fixtures", "async_sleep", [30]));
        Assert.False(timeout.WorkerKilled);
        Assert.Equal(pid, await pool.CallAsync<int>("fixtures", "pid"));
        Assert.Equal(25, await pool.CallAsync<int>("fixtures", "async_square", [5]));
    }

    [Fact]
    public async Task CallAsync_CancelledDuringHostCallback_CallEndsAndWorkerKept()
    {
        var options = TimeoutOptions("callback-cancel");
        options.Callbacks["slow"] = async (_, ct) =>
        {
            await Task.Delay(Timeout.Infinite, ct);
            return null;
        };
        await using var pool = await PythonPool.StartAsync(options);
        int pid = await pool.CallAsync<int>("fixtures", "pid");
        var timeout = await Assert.ThrowsAsync<PythonCallTimeoutException>(() => pool.CallAsync<int>("fixtures", "call_host", ["slow"]));
        Assert.False(timeout.WorkerKilled);
        Assert.Equal(pid, await pool.CallAsync<int>("fixtures", "pid"));
    }

    [Fact]
    public async Task CallAsync_GarbageOnProtocolDescriptor_ProtocolErrorAndWorkerReplaced()
    {
        await using var pool = await PythonPool.StartAsync(Options("garbage"));
        int pid = await pool.CallAsync<int>("fixtures", "pid");
        await Assert.ThrowsAsync<PythonProtocolException>(() => pool.CallAsync<string>("fixtures", "write_garbage"));
        await FakeWorkerFactory.WaitUntilAsync(() => !ProcessExists(pid), "the worker that broke the protocol is killed");
        Assert.NotEqual(pid, await pool.CallAsync<int>("fixtures", "pid"));
    }

    [Fact]
    public async Task StartAsync_SyntaxErrorInPreload_FailsWithPythonsOwnError()
    {
        var options = Options("syntax");
        options.Preload.Add("broken_syntax");
        var error = await Assert.ThrowsAsync<WorkerStartException>(() => PythonPool.StartAsync(options));
        var start = Assert.IsType<PythonStartException>(error.InnerException);
        Assert.Contains("SyntaxError", start.Message);
        Assert.Contains("broken_syntax.py", start.Message);
    }

    [Fact]
    public async Task StartAsync_MissingInterpreter_FailsWithClearError()
    {
        var options = Options("nointerp");
        options.PythonPath = "/nonexistent/python3";
        var error = await Assert.ThrowsAsync<PythonStartException>(() => PythonPool.StartAsync(options));
        Assert.Contains("/nonexistent/python3", error.Message);
    }

    [Fact]
    public async Task StartAsync_InitFunctionRunsOncePerWorker()
    {
        var options = Options("init", size: 2);
        options.Preload.Add("slow_init");
        options.InitFunction = "slow_init:init";
        await using var pool = await PythonPool.StartAsync(options);
        Assert.True(await pool.CallAsync<bool>("slow_init", "ready"));
    }

    [Fact]
    public async Task Retries_CrashedCallRetriedOnAnotherWorker_RaisedCallNot()
    {
        var marker = Path.Combine(Path.GetTempPath(), "lifeguard-retry-" + Guid.NewGuid().ToString("N"));
        var options = Options("retry", size: 2);
        options.MaxRetries = 1;
        await using var pool = await PythonPool.StartAsync(options);
        try
        {
            Assert.Equal("second time lucky", await pool.CallAsync<string>("fixtures", "crash_once", [marker]));
        }
        finally
        {
            File.Delete(marker);
        }

        await Assert.ThrowsAsync<PythonException>(() => pool.CallAsync<int>("fixtures", "fail", ["not retried"]));
        Assert.Equal(1, pool.GetStatus().TotalDeaths);
    }

    [Fact]
    public async Task MaxWorkerMemory_WorkerOverCeilingRetiredAtCheckin()
    {
        var options = Options("memory");
        options.MaxWorkerMemory = 150L * 1024 * 1024;
        await using var pool = await PythonPool.StartAsync(options);
        int pid = await pool.CallAsync<int>("fixtures", "pid");
        await pool.CallAsync<int>("fixtures", "allocate", [300]);
        await FakeWorkerFactory.WaitUntilAsync(() => !ProcessExists(pid) && pool.GetStatus().Idle == 1, "the bloated worker is retired and replaced");
        Assert.NotEqual(pid, await pool.CallAsync<int>("fixtures", "pid"));
    }

    [Fact]
    public async Task Stop_KillsEveryWorkerProcess()
    {
        var pool = await PythonPool.StartAsync(Options("stop", size: 3));
        var pids = pool.GetStatus().Workers.Select(w => (int)w.Details["pid"]!).ToList();
        Assert.Equal(3, pids.Count);
        Assert.All(pids, pid => Assert.True(ProcessExists(pid)));
        await pool.DisposeAsync();
        Assert.All(pids, pid => Assert.False(ProcessExists(pid)));
    }
}
