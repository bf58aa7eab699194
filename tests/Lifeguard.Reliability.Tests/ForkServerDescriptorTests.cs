using Lifeguard.Python;
using Lifeguard.Testing;
using Xunit.Abstractions;

namespace Lifeguard.Reliability.Tests;

/// <summary>
/// Forked workers leak no descriptors: after two hundred SIGKILLed workers are replaced by forks of one template, the
/// host, the template and a newly forked worker hold as many descriptors as they did before. Isolated: it counts the
/// whole process's descriptors.
/// </summary>
[Collection(IsolatedCollection.Name)]
public sealed class ForkServerDescriptorTests(ITestOutputHelper output) : ReliabilityTestBase
{
    private const int Replacements = 200;

    [Fact]
    public async Task TwoHundredReplacements_LeaveTheHostTheTemplateAndANewWorkerWithTheDescriptorsTheyHad()
    {
        var options = StormOptions("fork-descriptors", size: 2, maxOverflow: 0, Logs.CreateFactory(), PythonStartMode.ForkServer);
        options.Preload.Add("chaos");
        var pool = await PythonPool.StartAsync(options);
        await using (pool.ConfigureAwait(false))
        {
            // A few first, so what is opened once (the first accepted connection, a lazily loaded path) is not counted.
            await ReplaceAsync(pool, 4);
            int template = pool.ForkServer!.TemplateProcessId!.Value;
            int hostBefore = Descriptors("self");
            int templateBefore = Descriptors(template);
            int workerBefore = Descriptors(WorkerPids(pool.GetStatus())[0]);

            await ReplaceAsync(pool, Replacements);

            int hostAfter = Descriptors("self");
            int templateAfter = Descriptors(template);
            int workerAfter = Descriptors(WorkerPids(pool.GetStatus())[0]);
            output.WriteLine($"descriptors before and after {Replacements} replacements: host {hostBefore} → {hostAfter}, template {templateBefore} → {templateAfter}, a new worker {workerBefore} → {workerAfter}");
            Assert.Equal(template, pool.ForkServer.TemplateProcessId);
            Assert.Equal(templateBefore, templateAfter);
            Assert.Equal(workerBefore, workerAfter);
            // The runtime may open a few of its own meanwhile; one per replacement would be 200.
            Assert.True(hostAfter - hostBefore < 16, $"the host held {hostBefore} descriptors before {Replacements} replacements and {hostAfter} after");
            Assert.Equal(Replacements + 4 + 2, pool.GetStatus().TotalStarts);
        }
    }

    /// <summary>SIGKILLs an idle worker <paramref name="count"/> times, each time waiting for its replacement.</summary>
    private static async Task ReplaceAsync(PythonPool pool, int count)
    {
        for (int i = 0; i < count; i++)
        {
            int victim = WorkerPids(pool.GetStatus())[i % 2];
            SendSignal(victim, 9);
            await FakeWorkerFactory.WaitUntilAsync(
                () => pool.GetStatus() is { Idle: 2, Workers.Count: 2 } status && !WorkerPids(status).Contains(victim),
                $"worker {victim} is replaced and both workers are idle",
                timeoutMs: 60_000);
        }
    }

    private static int[] WorkerPids(PoolStatus status) => [.. status.Workers.Select(w => (int)w.Details["pid"]!)];

    private static int Descriptors(int pid) => Descriptors(pid.ToString(System.Globalization.CultureInfo.InvariantCulture));

    private static int Descriptors(string pid) => Directory.EnumerateFileSystemEntries($"/proc/{pid}/fd").Count();
}
