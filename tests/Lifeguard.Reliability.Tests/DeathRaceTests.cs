using Lifeguard.Python;
using Xunit.Abstractions;
using Xunit.Sdk;

namespace Lifeguard.Reliability.Tests;

/// <summary>
/// A worker killed just as its holder starts a call: the pool learns of the death and stops the worker while the call
/// is still being prepared. Whichever side gets there first, the call ends in
/// <see cref="PythonWorkerCrashedException"/> naming the signal, never in an untyped exception from the worker's
/// released resources (the chaos suite met one <see cref="ObjectDisposedException"/> in 20,000 calls before this
/// was so). Isolated: it signals its worker by pid, and its 16 MiB calls would skew the parallel tests' allocation
/// measurements.
/// </summary>
[Collection(IsolatedCollection.Name)]
public sealed class DeathRaceTests(ITestOutputHelper output) : ReliabilityTestBase
{
    private const int Rounds = 40;

    [Fact]
    public async Task WorkerKilledAsItsHolderStartsALargeCall_CallEndsAsACrash()
    {
        var options = new PythonPoolOptions
        {
            Name = "death-race",
            Size = 1,
            CallTimeout = TimeSpan.FromSeconds(30),
            MaxRestarts = 100_000,
        };
        options.ModulePaths.Add(PythonPath);
        // Large enough that writing the call takes the few milliseconds the pool needs to notice the death and stop
        // the worker, so the stop lands inside the call.
        var large = new string('x', 16 * 1024 * 1024);
        var outcomes = new Dictionary<string, int>(StringComparer.Ordinal);
        await using (var pool = await PythonPool.StartAsync(options))
        {
            for (int round = 0; round < Rounds; round++)
            {
                await using var lease = await pool.CheckoutAsync();
                var worker = lease.Worker;
                // One call first: it readies what every later call on the worker reuses.
                Assert.Equal(worker.ProcessId, await worker.CallAsync<int>("chaos", "pid"));

                SendSignal(worker.ProcessId, 9);
                var error = await Record.ExceptionAsync(() => worker.CallAsync<int>("chaos", "sleep", [large]));

                var crash = error as PythonWorkerCrashedException
                    ?? throw new XunitException($"round {round}: expected PythonWorkerCrashedException, got {error?.ToString() ?? "a result"}");
                Assert.Equal(9, crash.Signal);
                Assert.Equal(worker.ProcessId, crash.ProcessId);
                Assert.Contains("killed by signal 9 SIGKILL", crash.Message, StringComparison.Ordinal);
                string when = crash.Message.Contains("was not sent", StringComparison.Ordinal) ? "before sending" : "while sending";
                outcomes[when] = outcomes.GetValueOrDefault(when) + 1;
            }

            output.WriteLine($"{Rounds} rounds: " + string.Join(", ", outcomes.Select(o => $"{o.Key} {o.Value}")) + $"; deaths {pool.GetStatus().TotalDeaths}");
            Assert.Equal(Rounds, pool.GetStatus().TotalDeaths);
        }
    }
}
