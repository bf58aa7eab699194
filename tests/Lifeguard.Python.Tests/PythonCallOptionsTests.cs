using System.Text.Json;
using System.Text.Json.Serialization.Metadata;

namespace Lifeguard.Python.Tests;

/// <summary>Per-call options: each overrides the pool's option for its call only.</summary>
public sealed class PythonCallOptionsTests : PythonTestBase
{
    private static readonly TimeSpan Bound = TimeSpan.FromSeconds(30);
    private static readonly JsonTypeInfo<int> Int32Type = (JsonTypeInfo<int>)JsonSerializerOptions.Default.GetTypeInfo(typeof(int));

    /// <summary>A pool with the fixtures imported at start, so no call's timeout is spent on the import.</summary>
    private PythonPoolOptions Preloaded(string name, int size = 1)
    {
        var options = Options(name, size);
        options.Preload.Add("fixtures");
        return options;
    }

    private static string Marker() => Path.Combine(Path.GetTempPath(), "lifeguard-call-options-" + Guid.NewGuid().ToString("N"));

    [Fact]
    public async Task CallTimeout_ShorterThanThePools_InterruptsThatCallOnly()
    {
        await using var pool = await PythonPool.StartAsync(Preloaded("call-timeout-short"));
        int pid = await pool.CallAsync<int>("fixtures", "pid");

        var timeout = await Assert.ThrowsAsync<PythonCallTimeoutException>(
            () => pool.CallAsync<double>("fixtures", "sleep", [30], options: new PythonCallOptions { CallTimeout = TimeSpan.FromMilliseconds(500) }));

        Assert.Equal(TimeSpan.FromMilliseconds(500), timeout.Timeout);
        Assert.False(timeout.WorkerKilled);
        // The pool's 30 s applies again: a call longer than the other call's timeout finishes, on the same worker.
        Assert.Equal(1.5, await pool.CallAsync<double>("fixtures", "sleep", [1.5]));
        Assert.Equal(pid, await pool.CallAsync<int>("fixtures", "pid"));
    }

    [Fact]
    public async Task Options_ChangedAfterTheCallWasMade_TheCallKeepsWhatItWasGiven()
    {
        await using var pool = await PythonPool.StartAsync(Preloaded("call-options-copied"));
        var options = new PythonCallOptions { CallTimeout = TimeSpan.FromSeconds(30) };
        Task<double> call;
        await using (await pool.CheckoutAsync())
        {
            call = pool.CallAsync<double>("fixtures", "sleep", [0.5], options: options); // waits for the one worker
            options.CallTimeout = TimeSpan.FromMilliseconds(1);
            options.MaxRetries = -1;
        }

        Assert.Equal(0.5, await call.WaitAsync(Bound));
        await Assert.ThrowsAsync<ArgumentOutOfRangeException>(() => pool.CallAsync<double>("fixtures", "sleep", [0.5], options: options)); // later calls see the change
    }

    [Fact]
    public async Task CallTimeout_LongerThanThePools_LetsThatCallFinish()
    {
        var options = Preloaded("call-timeout-long");
        options.CallTimeout = TimeSpan.FromSeconds(1);
        await using var pool = await PythonPool.StartAsync(options);

        Assert.Equal(2, await pool.CallAsync<double>("fixtures", "sleep", [2], options: new PythonCallOptions { CallTimeout = TimeSpan.FromSeconds(30) }));
        Assert.Equal(2, (await pool.CallAsync("fixtures", "sleep", [2], options: new PythonCallOptions { CallTimeout = Timeout.InfiniteTimeSpan })).GetDouble());

        var timeout = await Assert.ThrowsAsync<PythonCallTimeoutException>(() => pool.CallAsync<double>("fixtures", "sleep", [30]));
        Assert.Equal(TimeSpan.FromSeconds(1), timeout.Timeout);
    }

    [Fact]
    public async Task CheckoutTimeout_ShortOneFailsWhileCallsWithoutItOrInfiniteWait()
    {
        var options = Preloaded("checkout-timeout");
        options.CheckoutTimeout = TimeSpan.FromSeconds(60);
        await using var pool = await PythonPool.StartAsync(options);
        var held = await pool.CheckoutAsync();

        var forever = pool.CallAsync<int>("fixtures", "square", [3], options: new PythonCallOptions { CheckoutTimeout = Timeout.InfiniteTimeSpan });
        var waiting = pool.CallAsync<int>("fixtures", "square", [4]);
        var timeout = await Assert.ThrowsAsync<PoolTimeoutException>(
            () => pool.CallAsync<int>("fixtures", "square", [5], options: new PythonCallOptions { CheckoutTimeout = TimeSpan.FromMilliseconds(100) }).WaitAsync(Bound));
        Assert.Equal(TimeSpan.FromMilliseconds(100), timeout.Timeout);
        await Assert.ThrowsAsync<PoolTimeoutException>(
            () => pool.CallAsync<int>("fixtures", "square", [5], options: new PythonCallOptions { CheckoutTimeout = TimeSpan.Zero }).WaitAsync(Bound));

        Assert.False(forever.IsCompleted);
        Assert.False(waiting.IsCompleted);
        held.Dispose();
        Assert.Equal(9, await forever.WaitAsync(Bound));
        Assert.Equal(16, await waiting.WaitAsync(Bound));
    }

    [Fact]
    public async Task MaxRetries_PerCall_RetriesACrashedCallOnAPoolWithoutRetries()
    {
        await using var pool = await PythonPool.StartAsync(Options("per-call-retries", size: 2));
        var marker = Marker();
        try
        {
            Assert.Equal("second time lucky", await pool.CallAsync<string>("fixtures", "crash_once", [marker], options: new PythonCallOptions { MaxRetries = 1 }));
        }
        finally
        {
            File.Delete(marker);
        }

        Assert.Equal(1, pool.GetStatus().TotalDeaths);
        var unset = Marker();
        try
        {
            await Assert.ThrowsAsync<PythonWorkerCrashedException>(() => pool.CallAsync<string>("fixtures", "crash_once", [unset]));
        }
        finally
        {
            File.Delete(unset);
        }
    }

    [Fact]
    public async Task MaxRetriesZeroOrNotIdempotent_PerCall_NoRetryOnAPoolWithRetries()
    {
        var options = Options("no-retries", size: 2);
        options.MaxRetries = 2;
        await using var pool = await PythonPool.StartAsync(options);
        foreach (var callOptions in new[] { new PythonCallOptions { MaxRetries = 0 }, new PythonCallOptions { Idempotent = false }, new PythonCallOptions { Idempotent = false, MaxRetries = 0 } })
        {
            var marker = Marker();
            try
            {
                var crash = await Assert.ThrowsAsync<PythonWorkerCrashedException>(() => pool.CallAsync<string>("fixtures", "crash_once", [marker], options: callOptions));
                Assert.Equal(7, crash.ExitCode);
            }
            finally
            {
                File.Delete(marker);
            }
        }

        // Idempotent = true leaves the pool's retries as they are.
        var retried = Marker();
        try
        {
            Assert.Equal("second time lucky", await pool.CallAsync<string>("fixtures", "crash_once", [retried], options: new PythonCallOptions { Idempotent = true }));
        }
        finally
        {
            File.Delete(retried);
        }

        Assert.Equal(4, pool.GetStatus().TotalDeaths);
    }

    [Fact]
    public async Task InvalidOptions_ThrowBeforeAnyCheckout()
    {
        var options = Preloaded("invalid-options");
        options.CheckoutTimeout = Timeout.InfiniteTimeSpan;
        await using var pool = await PythonPool.StartAsync(options);
        // The only worker is held, and a checkout would wait forever: each call must fail before it checks out.
        using var held = await pool.CheckoutAsync();

        var contradictory = await Assert.ThrowsAsync<ArgumentException>(
            () => pool.CallAsync<int>("fixtures", "square", [2], options: new PythonCallOptions { Idempotent = false, MaxRetries = 1 }).WaitAsync(Bound));
        Assert.Contains("Idempotent", contradictory.Message);
        Assert.Contains("MaxRetries", contradictory.Message);
        Assert.Equal("options", contradictory.ParamName);

        var negativeRetries = await Assert.ThrowsAsync<ArgumentOutOfRangeException>(
            () => pool.CallAsync("fixtures", "square", [2], options: new PythonCallOptions { MaxRetries = -1 }).WaitAsync(Bound));
        Assert.Contains("MaxRetries", negativeRetries.Message);
        Assert.Equal(-1, negativeRetries.ActualValue);

        var zeroTimeout = await Assert.ThrowsAsync<ArgumentOutOfRangeException>(
            () => pool.CallAsync<int>("fixtures", "square", [2], options: new PythonCallOptions { CallTimeout = TimeSpan.Zero }).WaitAsync(Bound));
        Assert.Contains("CallTimeout", zeroTimeout.Message);
        Assert.Equal(TimeSpan.Zero, zeroTimeout.ActualValue);

        var negativeCheckout = await Assert.ThrowsAsync<ArgumentOutOfRangeException>(
            () => pool.CallAsync<int>("fixtures", "square", Int32Type, [2], options: new PythonCallOptions { CheckoutTimeout = TimeSpan.FromSeconds(-2) }).WaitAsync(Bound));
        Assert.Contains("CheckoutTimeout", negativeCheckout.Message);
        Assert.Equal(TimeSpan.FromSeconds(-2), negativeCheckout.ActualValue);

        var status = pool.GetStatus();
        Assert.Equal(0, status.Waiters);
        Assert.Equal(1, status.TotalCheckouts);
    }

    [Fact]
    public async Task IncludeArgumentsInErrors_PerCall_ShowsOrOmitsTheArguments()
    {
        await using var hiding = await PythonPool.StartAsync(Options("arguments-hidden"));
        var shown = await Assert.ThrowsAsync<PythonException>(
            () => hiding.CallAsync<int>("fixtures", "add", ["card-4111", 1], options: new PythonCallOptions { IncludeArgumentsInErrors = true }));
        Assert.Contains("card-4111", shown.Message);
        var hidden = await Assert.ThrowsAsync<PythonException>(() => hiding.CallAsync<int>("fixtures", "add", ["card-4111", 1]));
        Assert.DoesNotContain("card-4111", hidden.Message);

        var options = Options("arguments-shown");
        options.IncludeArgumentsInErrors = true;
        await using var showing = await PythonPool.StartAsync(options);
        var omitted = await Assert.ThrowsAsync<PythonException>(
            () => showing.CallAsync("fixtures", "add", ["card-4111", 1], options: new PythonCallOptions { IncludeArgumentsInErrors = false }));
        Assert.DoesNotContain("card-4111", omitted.Message);
        Assert.Contains("fixtures.add", omitted.Message);

        using var lease = await hiding.CheckoutAsync();
        var leased = await Assert.ThrowsAsync<PythonException>(
            () => lease.Worker.CallAsync<int>("fixtures", "add", ["card-4111", 1], options: new PythonCallOptions { IncludeArgumentsInErrors = true }));
        Assert.Contains("card-4111", leased.Message);
    }

    [Fact]
    public async Task LeasedWorker_CallTimeoutApplies_PoolCallFieldsThrow()
    {
        await using var pool = await PythonPool.StartAsync(Preloaded("leased-options"));
        using var lease = await pool.CheckoutAsync();
        var worker = lease.Worker;

        var timeout = await Assert.ThrowsAsync<PythonCallTimeoutException>(
            () => worker.CallAsync<double>("fixtures", "sleep", [30], options: new PythonCallOptions { CallTimeout = TimeSpan.FromMilliseconds(500) }));
        Assert.Equal(TimeSpan.FromMilliseconds(500), timeout.Timeout);
        Assert.Equal(4, await worker.CallAsync<int>("fixtures", "square", [2]));

        foreach (var (callOptions, field) in new[]
        {
            (new PythonCallOptions { CheckoutTimeout = TimeSpan.FromSeconds(1) }, "CheckoutTimeout"),
            (new PythonCallOptions { MaxRetries = 0 }, "MaxRetries"),
            (new PythonCallOptions { Idempotent = true }, "Idempotent"),
        })
        {
            var typed = await Assert.ThrowsAsync<ArgumentException>(() => worker.CallAsync<int>("fixtures", "square", [2], options: callOptions));
            Assert.Contains(field, typed.Message);
            Assert.Contains("pool calls only", typed.Message);
            await Assert.ThrowsAsync<ArgumentException>(() => worker.CallAsync("fixtures", "square", [2], options: callOptions));
            await Assert.ThrowsAsync<ArgumentException>(() => worker.CallAsync("fixtures", "square", Int32Type, [2], options: callOptions));
        }

        await Assert.ThrowsAsync<ArgumentOutOfRangeException>(
            () => worker.CallAsync<int>("fixtures", "square", [2], options: new PythonCallOptions { CallTimeout = TimeSpan.FromSeconds(-1) }));
        Assert.Equal(9, await worker.CallAsync<int>("fixtures", "square", [3]));
    }
}
