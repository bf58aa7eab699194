namespace Lifeguard.Cli.Tests;

public sealed class SizeCommandTests
{
    [Fact]
    public async Task Size_SeedExample_PrintsSize10MaxOverflow5WithReasoning()
    {
        var (code, output, error) = await CliProcess.RunAsync("size", "--rate", "10", "--service-time", "1s", "--peak", "15");
        Assert.Equal(0, code);
        Assert.Equal("", error);
        var lines = output.TrimEnd().Split('\n');
        Assert.Equal("Size 10, MaxOverflow 5", lines[0]);
        Assert.InRange(lines.Length - 1, 2, 3);
        Assert.Contains("Little's Law", lines[1]);
    }

    [Theory]
    [InlineData("500ms", "Size 5")]      // 10/s × 0.5 s
    [InlineData("00:00:02", "Size 20")]  // hh:mm:ss
    [InlineData("2m", "Size 1200")]
    public async Task Size_DurationForms_AreAccepted(string serviceTime, string expected)
    {
        var (code, output, _) = await CliProcess.RunAsync("size", "--rate", "10", "--service-time", serviceTime);
        Assert.Equal(0, code);
        Assert.StartsWith(expected + ",", output);
    }

    [Theory]
    [InlineData("size", "--rate", "10")]                                        // missing --service-time
    [InlineData("size", "--rate", "ten", "--service-time", "1s")]               // not a number
    [InlineData("size", "--rate", "10", "--service-time", "1 fortnight")]       // not a duration
    [InlineData("size", "--rate", "10", "--service-time", "1s", "--peak", "5")] // peak below the rate
    [InlineData("bogus")]
    public async Task Size_BadArguments_OneLineErrorAndExitCode2(params string[] args)
    {
        var (code, output, error) = await CliProcess.RunAsync(args);
        Assert.Equal(2, code);
        Assert.Equal("", output);
        Assert.Single(error.TrimEnd().Split('\n'));
        Assert.StartsWith("lifeguard", error);
    }

    [Fact]
    public async Task Size_Help_ShowsExamples()
    {
        var (code, output, _) = await CliProcess.RunAsync("size", "--help");
        Assert.Equal(0, code);
        Assert.Contains("Examples:", output);
        Assert.Contains("lifeguard size --rate 10 --service-time 1s --peak 15", output);
    }
}
