namespace Lifeguard.Cli.Tests;

/// <summary>The command is `lifeguard` in every help text, whatever the executable (here `dotnet Lifeguard.Cli.dll`).</summary>
public sealed class HelpTests
{
    [Theory]
    [InlineData("--help", "lifeguard [command] [options]")]
    [InlineData("run --help", "lifeguard run <FILE.py:FUNCTION> [options]")]
    [InlineData("size --help", "lifeguard size [options]")]
    public async Task Help_AnyCommand_NamesLifeguard(string args, string usage)
    {
        var (code, output, _) = await CliProcess.RunAsync(args.Split(' '));

        Assert.Equal(0, code);
        Assert.Contains(usage, output, StringComparison.Ordinal);
        Assert.DoesNotContain("Lifeguard.Cli", output, StringComparison.Ordinal);
    }

    [Fact]
    public async Task Version_PrintsTheVersion()
    {
        var (code, output, _) = await CliProcess.RunAsync("--version");
        Assert.Equal(0, code);
        Assert.Matches(@"^\d+\.\d+\.\d+", output);
    }
}
