using System.Globalization;
using System.Text.RegularExpressions;

namespace Lifeguard.Cli.Tests;

public sealed class BenchCommandTests
{
    [Fact]
    public async Task Bench_PrintsRoundTripAndScalingAsATable()
    {
        var (code, output, error) = await CliProcess.RunAsync("bench");
        Assert.True(code == 0, error);
        var roundTrip = Regex.Match(output, @"round trip\s*│\s*([0-9.]+) µs");
        Assert.True(roundTrip.Success, output);
        Assert.InRange(double.Parse(roundTrip.Groups[1].Value, CultureInfo.InvariantCulture), 1, 10_000); // a real measurement, in µs
        var scaling = Regex.Match(output, @"scaling, 1 → 2 workers\s*│\s*([0-9.]+)×");
        Assert.True(scaling.Success, output);
        Assert.True(double.Parse(scaling.Groups[1].Value, CultureInfo.InvariantCulture) > 0);
    }
}
