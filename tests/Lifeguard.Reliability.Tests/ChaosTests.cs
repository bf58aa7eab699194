using System.Diagnostics;
using System.Globalization;
using System.Threading.Channels;
using Lifeguard.Python;
using Xunit.Abstractions;

namespace Lifeguard.Reliability.Tests;

/// <summary>
/// Chaos: a pool of Python workers serves a steady stream of calls while a driver kills workers (SIGKILL), freezes them
/// (SIGSTOP, so they hang until the call timeout), and some calls raise or make their worker call <c>os._exit</c>.
/// With retries on for the idempotent calls, no call is lost or fails by a crash; no attempt outlives its timeout by
/// more than a small bound; the pool is back to full size after the storm; no worker process survives the pool.
/// CI profile: 20,000 calls. Long profile (<c>LIFEGUARD_RELIABILITY=long</c>): 1,000,000. <c>LIFEGUARD_CHAOS_CALLS</c>
/// sets the count.
/// </summary>
[Collection(IsolatedCollection.Name)]
public sealed class ChaosTests(ITestOutputHelper output) : ReliabilityTestBase
{
    private const int Size = 4;
    private const int MaxOverflow = 2;
    private const int Callers = 16;
    private const int CallsPerFault = 100;
    private const int FreezeOneIn = 5;


    // What an attempt may take beyond its timeout and grace: the kill, the exit being noticed, the checkin. Generous
    // for a loaded 2-core machine; an attempt that hung would exceed it by far.
    private static readonly TimeSpan AttemptSlack = TimeSpan.FromSeconds(2);

    private FormattingLoggerProvider Logging { get; } = new();

    [Theory]
    [InlineData(PythonStartMode.Spawn)]
    [InlineData(PythonStartMode.ForkServer)]
    public async Task Storm_NoCallLostOrFailedByCrashes_PoolRecoversToFullSize_NoProcessLeft(PythonStartMode mode)
    {
        long calls = EnvInt("LIFEGUARD_CHAOS_CALLS", LongProfile ? 1_000_000 : 20_000);
        var markers = Directory.CreateTempSubdirectory("lifeguard-chaos-");
        var options = StormOptions("chaos", Size, MaxOverflow, Logging.CreateFactory(), mode);
        using var leases = new LeaseDurationProbe(options.Name);
        var clock = Stopwatch.StartNew();
        FaultInjector faults;
        Workload workload;
        await using (var pool = await PythonPool.StartAsync(options))
        {
            faults = new FaultInjector(pool.GetStatus, seed: 20261121);
            workload = new Workload(pool, markers.FullName);
            var faultRequests = Channel.CreateUnbounded<bool>(new UnboundedChannelOptions { SingleReader = true });
            var driver = Task.Run(async () =>
            {
                await foreach (var _ in faultRequests.Reader.ReadAllAsync())
                {
                    faults.Inject(faults.Next(FreezeOneIn));
                }
            });

            long next = -1;
            var callers = Enumerable.Range(0, Callers).Select(_ => Task.Run(async () =>
            {
                long i;
                while ((i = Interlocked.Increment(ref next)) < calls)
                {
                    await workload.CallAsync(i);
                    if (i % CallsPerFault == CallsPerFault - 1)
                    {
                        faultRequests.Writer.TryWrite(true);
                    }
                }
            })).ToArray();

            await Task.WhenAll(callers);
            faultRequests.Writer.Complete();
            await driver;
            var stormTime = clock.Elapsed;

            // The storm is over: flush any worker still frozen (it answers nothing until its call times out and it is
            // replaced), then the pool must be back to its full size, every worker alive and running.
            var recovered = await SettleAsync(pool, Size);
            var status = pool.GetStatus();
            faults.Observe();
            var attemptBound = options.CallTimeout + options.CancelGracePeriod + AttemptSlack;
            Report(mode, calls, workload, faults, leases, status, stormTime, recovered, attemptBound);

            Assert.Equal(calls, workload.Attempted);
            Assert.Equal(calls, workload.Succeeded + workload.Refused + workload.FailureCount);
            Assert.True(workload.FailureCount == 0, "calls lost or failed: " + workload.Summary() + Environment.NewLine + workload.FirstFailures());
            Assert.Equal(calls / 100 * 3, workload.Refused);
            Assert.True(faults.Kills + faults.Freezes >= calls / CallsPerFault * 9 / 10, $"only {faults.Kills + faults.Freezes} faults were injected");
            Assert.True(status.TotalDeaths >= workload.ExitCalls, $"{status.TotalDeaths} deaths for {workload.ExitCalls} os._exit calls");

            Assert.True(leases.Longest <= attemptBound, $"an attempt took {leases.Longest.TotalSeconds:0.000} s, over its bound of {attemptBound.TotalSeconds:0.0} s");
            Assert.True(recovered, "the pool did not return to full size after the storm: " + status);
            Assert.Equal(PoolState.Ready, status.State);
            Assert.Equal(Size, status.Idle);
            Assert.Equal(0, status.Busy + status.Starting);
        }

        // Disposed: every worker the storm saw, and every replacement, is gone.
        await AssertNoWorkerLeftAsync(faults.SeenPids);
        Assert.Empty(Directory.EnumerateFiles(markers.FullName));
        markers.Delete(recursive: true);
    }

    private void Report(PythonStartMode mode, long calls, Workload workload, FaultInjector faults, LeaseDurationProbe leases, PoolStatus status, TimeSpan storm, bool recovered, TimeSpan bound)
    {
        var line = string.Create(
            CultureInfo.InvariantCulture,
            $"chaos ({mode}): {calls} calls by {Callers} callers on size {Size} + overflow {MaxOverflow} in {storm.TotalSeconds:0.0} s; "
            + $"faults: {faults.Kills} SIGKILL, {faults.Freezes} SIGSTOP, {workload.ExitCalls} os._exit; {workload.Summary()}; "
            + $"restarts {status.TotalRestarts}, deaths {status.TotalDeaths}; longest attempt {leases.Longest.TotalSeconds:0.000} s "
            + $"(bound {bound.TotalSeconds:0.0} s) over {leases.Count} leases; longest call {workload.LongestCall.TotalSeconds:0.000} s; "
            + $"recovered {recovered}: {status}");
        output.WriteLine(line);
        if (Environment.GetEnvironmentVariable("LIFEGUARD_RELIABILITY_REPORT") is { Length: > 0 } path)
        {
            File.AppendAllText(path, line + Environment.NewLine);
        }
    }
}
