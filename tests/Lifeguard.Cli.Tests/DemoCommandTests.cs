using System.Diagnostics;

namespace Lifeguard.Cli.Tests;

public sealed class DemoCommandTests
{
    [Fact]
    public async Task Demo_RunsTheSeedsScenarios_KillsAWorkerLosesNothingAndAdvises()
    {
        var clock = Stopwatch.StartNew();
        var (code, output, error) = await CliProcess.RunAsync("demo");
        Assert.True(code == 0, output + error);
        Assert.True(clock.Elapsed < TimeSpan.FromSeconds(30), $"the demo took {clock.Elapsed}");
        Assert.Contains("20 squares", output);
        Assert.Contains("all correct: True", output);
        Assert.Contains("overflow 2", output); // the burst used the overflow workers
        Assert.Matches(@"killed worker pid \d+ midway; the pool replaced it \(deaths 1", output);
        Assert.Contains("200 of 200 plans", output);
        Assert.Contains("no input lost", output);
        Assert.Matches(@"Size \d+, MaxOverflow \d+", output);
        Assert.Contains("Little's Law", output);
    }
}
