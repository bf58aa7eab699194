using Lifeguard.Python;
using Xunit.Abstractions;

namespace Lifeguard.Reliability.Tests;

/// <summary>
/// Idle checks against frozen workers: idle workers stopped with SIGSTOP are found by their ping before any caller gets
/// one, killed and replaced, and every call succeeds on a worker that answers. Isolated: it signals workers by pid.
/// </summary>
[Collection(IsolatedCollection.Name)]
public sealed class IdleCheckTests(ITestOutputHelper output) : ReliabilityTestBase
{
    private const int SigCont = 18;
    private const int SigStop = 19;
    private const int Size = 4;
    private const int Frozen = 3;
    private const int Calls = 40;

    [Theory]
    [InlineData(PythonStartMode.Spawn)]
    [InlineData(PythonStartMode.ForkServer)]
    public async Task IdleWorkersStopped_NoCallerEverGetsOne_AndEachIsReplaced(PythonStartMode mode)
    {
        var options = new PythonPoolOptions
        {
            Name = "idle-check-" + mode,
            StartMode = mode,
            Size = Size,
            Strategy = PoolStrategy.Fifo, // round robin: each idle worker, frozen ones too, is taken in turn
            // Every idle worker is checked; a healthy one answers well within the timeout even on a loaded machine.
            IdleCheckAfter = TimeSpan.FromTicks(1),
            IdleCheckTimeout = TimeSpan.FromSeconds(2),
            CheckoutTimeout = TimeSpan.FromSeconds(120),
            CallTimeout = TimeSpan.FromSeconds(60), // far beyond the checks: a call on a frozen worker would show
            MaxRetries = 0, // so any failure reaches the caller
            MaxRestarts = null,
            LoggerFactory = Logs.CreateFactory(),
        };
        options.ModulePaths.Add(PythonPath);
        var frozen = new List<int>();
        try
        {
            await using (var pool = await PythonPool.StartAsync(options))
            {
                Assert.True(await SettleAsync(pool, Size), "the pool settles at its size");
                frozen.AddRange(pool.GetStatus().Workers.Select(w => (int)w.Details["pid"]!).Take(Frozen));
                foreach (int pid in frozen)
                {
                    Assert.True(FaultInjector.IsOurWorker(pid), $"pid {pid} is one of our workers");
                    SendSignal(pid, SigStop);
                }

                await WaitForAsync(() => frozen.All(p => FaultInjector.State(p) == 'T'), "the workers are stopped");

                // Callers, as many at a time as there are workers, so that each round checks out every idle one,
                // frozen or not (an idle worker is checked only when a checkout takes it): none may land on one.
                var answered = new List<int>();
                for (int i = 0; i < Calls; i += Size)
                {
                    int[] round = await Task.WhenAll(Enumerable.Range(0, Size).Select(_ => pool.CallAsync<int>("chaos", "pid")));
                    answered.AddRange(round);
                }

                Assert.Equal(Calls, answered.Count);
                Assert.DoesNotContain(answered, frozen.Contains);

                await WaitForAsync(
                    () => pool.GetStatus() is { Idle: Size, Busy: 0, Starting: 0 } status && !status.Workers.Any(w => frozen.Contains((int)w.Details["pid"]!)),
                    "the frozen workers are replaced");
                var final = pool.GetStatus();
                output.WriteLine($"{mode}: {Calls} calls on {answered.Distinct().Count()} workers; deaths {final.TotalDeaths}, starts {final.TotalStarts}");
                Assert.Equal(Frozen, final.TotalDeaths);
                Assert.Equal(0, final.TotalTimeouts);
                Assert.Equal(PoolState.Ready, final.State);
                await WaitForAsync(() => frozen.All(p => !FaultInjector.IsOurWorker(p)), "the frozen workers were killed");
                Assert.Equal(Frozen, Logs.Entries.Count(e => e.EventId.Id == 2004));
            }
        }
        finally
        {
            // Whatever failed, no process of ours stays stopped (a live one is then stopped by its pool, or has been).
            foreach (int pid in frozen.Where(FaultInjector.IsOurWorker))
            {
                SendSignal(pid, SigCont);
            }
        }

        await AssertNoWorkerLeftAsync(frozen);
    }

    private static async Task WaitForAsync(Func<bool> condition, string what)
        => await Lifeguard.Testing.FakeWorkerFactory.WaitUntilAsync(condition, what, timeoutMs: 60_000);
}
