namespace Lifeguard.Cli.Tests;

/// <summary>
/// <c>lifeguard run --pool</c>'s refusals that need no broker: one line and exit code 2 before anything is read or
/// connected to, and never the broker's password.
/// </summary>
public sealed class RunRemoteUsageTests : IDisposable
{
    private const string Password = "s3cret-never-shown";
    private readonly string _dir = Directory.CreateTempSubdirectory("lifeguard-remote-usage-").FullName;

    public void Dispose() => Directory.Delete(_dir, recursive: true);

    [Fact]
    public async Task FileTarget_WithPool_Exit2_NamingTheModuleToUse()
    {
        var file = Path.Combine(AppContext.BaseDirectory, "python", "runremote.py");
        var (code, stdout, error) = await RunAsync(file + ":count", "--input", Input(), "--pool", "p");

        Assert.Equal(2, code);
        Assert.Equal("", stdout);
        Assert.Contains("not a file: 'lifeguard serve runremote.py' serves the module 'runremote', so use runremote:count.", error, StringComparison.Ordinal);
        Assert.Single(error.TrimEnd().Split('\n'));
    }

    [Theory]
    [InlineData("--size", "2")]
    [InlineData("--max-overflow", "1")]
    [InlineData("--python", "python3")]
    [InlineData("--venv", ".venv")]
    [InlineData("--quiet")]
    [InlineData("--dashboard")]
    [InlineData("--dashboard-address", "127.0.0.1:0")]
    [InlineData("--dashboard-actions")]
    public async Task LocalPoolOption_WithPool_Exit2(params string[] option)
    {
        var (code, _, error) = await RunAsync(["runremote:count", "--input", Input(), "--pool", "p", .. option]);

        Assert.Equal(2, code);
        Assert.Contains($"{option[0]} does not apply with --pool", error, StringComparison.Ordinal);
        Assert.Single(error.TrimEnd().Split('\n'));
    }

    [Theory]
    [InlineData("--stream")]
    [InlineData("--in-flight", "2")]
    [InlineData("--broker", "amqp://app:" + Password + "@127.0.0.1:1/")]
    [InlineData("--max-queue-length", "5")]
    public async Task RemoteOption_WithoutPool_Exit2(params string[] option)
    {
        var target = Path.Combine(AppContext.BaseDirectory, "python", "runfix.py") + ":double";
        var (code, _, error) = await RunAsync([target, "--input", Input(), .. option]);

        Assert.Equal(2, code);
        Assert.Contains($"{option[0]} needs --pool", error, StringComparison.Ordinal);
        Assert.Single(error.TrimEnd().Split('\n'));
    }

    [Theory]
    [InlineData("--in-flight", "0", "--in-flight and --max-queue-length must be at least 1")]
    [InlineData("--max-frame-size", "256MiB", "--max-frame-size must be from 4KiB to 128MiB with --pool")]
    [InlineData("--broker", "not a uri", "--broker is not a URI")]
    [InlineData("--broker", "http://app:" + Password + "@127.0.0.1:1/", "is not amqp:// or amqps://")]
    public async Task BadRemoteValue_Exit2(string option, string value, string message)
    {
        var (code, _, error) = await RunAsync("runremote:count", "--input", Input(), "--pool", "p", option, value);

        Assert.Equal(2, code);
        Assert.Contains(message, error, StringComparison.Ordinal);
    }

    [Fact]
    public async Task BrokerUnreachable_Exit2_WithoutItsPassword_AcceptingA128MiBFrame()
    {
        var output = Path.Combine(_dir, "out.jsonl");
        var (code, stdout, error) = await RunAsync(
            "runremote:count", "--input", Input(), "--output", output, "--pool", "p", "--broker", $"amqp://app:{Password}@127.0.0.1:1/", "--max-frame-size", "128MiB");

        Assert.Equal(2, code);
        Assert.Equal("", stdout);
        Assert.Contains("lifeguard run: cannot reach the broker", error, StringComparison.Ordinal);
        Assert.Contains("amqp://app@127.0.0.1:1/", error, StringComparison.Ordinal);
        Assert.False(File.Exists(output));
    }

    private async Task<(int ExitCode, string Output, string Error)> RunAsync(params string[] args)
    {
        var result = await CliProcess.RunAsync(new Dictionary<string, string?>(StringComparer.Ordinal) { ["LIFEGUARD_BROKER"] = null }, ["run", .. args]);
        Assert.DoesNotContain(Password, result.Output + result.Error, StringComparison.Ordinal);
        return result;
    }

    private string Input()
    {
        var path = Path.Combine(_dir, "in.jsonl");
        File.WriteAllLines(path, ["1", "2"]);
        return path;
    }
}
