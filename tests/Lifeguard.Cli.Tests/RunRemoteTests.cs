using System.Globalization;
using System.Text.Json;

namespace Lifeguard.Cli.Tests;

/// <summary>
/// <c>lifeguard run MODULE:FUNCTION --pool NAME</c> on a real broker, with <c>lifeguard serve</c> hosts of
/// <c>runremote.py</c>: results in input order from several hosts, interrupts and <c>--resume</c>, retries, streams,
/// remote errors and the exit-code-2 cases that need a broker. No run prints the broker's password.
/// </summary>
[Collection(RemoteRunCollection.Name)]
public sealed class RunRemoteTests(RemoteRunFixture broker) : IDisposable
{
    private readonly string _dir = Directory.CreateTempSubdirectory("lifeguard-remote-").FullName;

    public void Dispose() => Directory.Delete(_dir, recursive: true);

    [Fact]
    public async Task Run_OnTwoHosts_EveryResultInInputOrder_FromBothHosts()
    {
        var lines = Enumerable.Range(0, 40).Select(i => i.ToString(CultureInfo.InvariantCulture)).ToList();
        lines.Insert(5, ""); // a blank line: not an input, but counted in the line numbers
        var input = Write("in.jsonl", [.. lines]);

        // The URI on the command line this once (users keep it in LIFEGUARD_BROKER): its password is still never shown.
        var (code, output, error) = await RunAsync(null, "runremote:square_where", "--input", input, "--pool", broker.SharedPool, "--broker", broker.Node.Uri.ToString());

        Assert.True(code == 0, error);
        var entries = Entries(output);
        Assert.Equal(Enumerable.Range(0, 40), entries.Select(e => e.GetProperty("index").GetInt32()));
        Assert.Equal(Enumerable.Range(0, 40).Select(i => i < 5 ? i + 1 : i + 2), entries.Select(e => e.GetProperty("line").GetInt32()));
        Assert.Equal(Enumerable.Range(0, 40).Select(i => i * i), entries.Select(e => e.GetProperty("result").GetProperty("y").GetInt32()));
        Assert.Equal(2, entries.Select(e => e.GetProperty("result").GetProperty("host").GetInt32()).Distinct().Count());
        Assert.Contains($"pool '{broker.SharedPool}' on amqp://lifeguard@", error, StringComparison.Ordinal);
        Assert.Contains("hosts: 2, capacity 4 (shared-a 2, shared-b 2)", error, StringComparison.Ordinal);
        Assert.Contains("40 inputs, 40 succeeded, 0 failed", error, StringComparison.Ordinal);
    }

    [Fact]
    public async Task Interrupted_ThenResume_SameBytesAsAnUninterruptedRun()
    {
        // 10 quick inputs, then 20 that wait at a gate: the hosts' capacity of 4 has inputs 10 to 13 in flight.
        var input = Write("in.jsonl", [.. Enumerable.Range(0, 30).Select(n => JsonSerializer.Serialize(new { n, dir = _dir, wait = n >= 10 }))]);
        var output = Path.Combine(_dir, "out.jsonl");
        using (var run = CliRun.Start(broker.Environment(), "run", "runremote:gate", "--input", input, "--output", output, "--pool", broker.SharedPool, "--grace", "10m"))
        {
            await Poll.UntilAsync(() => Enumerable.Range(10, 4).All(n => File.Exists(Path.Combine(_dir, $"started-{n}"))), "inputs 10 to 13 to start on the hosts");
            run.Signal("INT");
            await run.WaitForStderrAsync("interrupted; reading no more input");
            File.WriteAllText(Path.Combine(_dir, "release"), "");

            Assert.Equal(130, await run.WaitForExitAsync());
            Assert.Contains("interrupted: 14 results written", run.Stderr, StringComparison.Ordinal);
            AssertNoPassword(run.Stdout + run.Stderr);
        }

        Assert.Equal(14, File.ReadAllLines(output).Length); // the four in flight finished; none after them was sent
        var (code, _, error) = await RunAsync(null, "runremote:gate", "--input", input, "--output", output, "--pool", broker.SharedPool, "--resume");
        Assert.True(code == 0, error);
        Assert.Contains("14 of them kept from the earlier run", error, StringComparison.Ordinal);

        var uninterrupted = Path.Combine(_dir, "full.jsonl");
        Assert.Equal(0, (await RunAsync(null, "runremote:gate", "--input", input, "--output", uninterrupted, "--pool", broker.SharedPool)).ExitCode);
        Assert.Equal(File.ReadAllBytes(uninterrupted), File.ReadAllBytes(output));
        Assert.Equal(Enumerable.Range(0, 30), Entries(File.ReadAllText(output)).Select(e => e.GetProperty("result").GetInt32()));
    }

    [Fact]
    public async Task InFlight_FollowsTheHostsCapacity_AHostAddedMidRunTakesInputsAtOnce()
    {
        var pool = RemoteRunFixture.NewPoolName();
        await broker.ServeAsync(pool, "grow-a", "--size", "1");
        var input = Write("in.jsonl", [.. Enumerable.Range(0, 6).Select(n => JsonSerializer.Serialize(new { n, dir = _dir, wait = true }))]);
        using var run = CliRun.Start(broker.Environment(), "run", "runremote:gate", "--input", input, "--pool", pool);

        // Capacity 1: input 0 runs, and nothing waits in the queue (the other inputs wait in the command).
        await Poll.UntilAsync(() => File.Exists(Started(0)), "input 0 to start on the first host");
        Assert.Equal(0u, await broker.QueuedAsync(pool));

        // A second host: within the next capacity reading the run sends input 1, still without queueing.
        await broker.ServeAsync(pool, "grow-b", "--size", "1");
        await Poll.UntilAsync(() => File.Exists(Started(1)), "input 1 to start on the added host", seconds: 30);
        Assert.False(File.Exists(Started(2)));
        Assert.Equal(0u, await broker.QueuedAsync(pool));

        File.WriteAllText(Path.Combine(_dir, "release"), "");
        Assert.True(await run.WaitForExitAsync() == 0, run.Stderr);
        Assert.Equal(Enumerable.Range(0, 6), Entries(run.Stdout).Select(e => e.GetProperty("result").GetInt32()));
        AssertNoPassword(run.Stdout + run.Stderr);
    }

    [Fact]
    public async Task Retries_CrashedInputsRunAgain_WithoutThemWorkerCrashedEntries()
    {
        string Inputs(string name)
        {
            var folder = Directory.CreateDirectory(Path.Combine(_dir, name)).FullName;
            return Write(name + ".jsonl", [.. Enumerable.Range(0, 6).Select(n => JsonSerializer.Serialize(new { n, dir = folder }))]);
        }

        var (failedCode, failedOut, failedError) = await RunAsync(null, "runremote:crash_once", "--input", Inputs("once"), "--pool", broker.SharedPool);
        Assert.Equal(1, failedCode);
        var failed = Entries(failedOut);
        Assert.Equal(["WorkerCrashed", null, null, "WorkerCrashed", null, null], failed.Select(ErrorType));
        Assert.Contains("6 inputs, 4 succeeded, 2 failed (WorkerCrashed 2)", failedError, StringComparison.Ordinal);

        var (code, output, error) = await RunAsync(null, "runremote:crash_once", "--input", Inputs("retried"), "--pool", broker.SharedPool, "--retries", "1");
        Assert.True(code == 0, error);
        Assert.Equal(Enumerable.Range(0, 6), Entries(output).Select(e => e.GetProperty("result").GetInt32()));
    }

    [Fact]
    public async Task Stream_AGeneratorsItemsAnEntryEach_WithoutItOneList()
    {
        var input = Write("in.jsonl", "2", "0", "3");

        var (code, output, error) = await RunAsync(null, "runremote:count", "--input", input, "--pool", broker.SharedPool, "--stream");
        Assert.True(code == 0, error);
        Assert.Equal(
            """
            {"index":0,"line":1,"item":0,"result":0}
            {"index":0,"line":1,"item":1,"result":1}
            {"index":0,"line":1,"items":2}
            {"index":1,"line":2,"items":0}
            {"index":2,"line":3,"item":0,"result":0}
            {"index":2,"line":3,"item":1,"result":1}
            {"index":2,"line":3,"item":2,"result":2}
            {"index":2,"line":3,"items":3}
            """.ReplaceLineEndings("\n"),
            output.TrimEnd());
        Assert.Contains("3 inputs, 3 succeeded, 0 failed; 5 items yielded", error, StringComparison.Ordinal);

        (code, output, error) = await RunAsync(null, "runremote:count", "--input", input, "--pool", broker.SharedPool);
        Assert.True(code == 0, error);
        Assert.Equal(["[0,1]", "[]", "[0,1,2]"], Entries(output).Select(e => e.GetProperty("result").GetRawText()));

        // A function that returns a value is no stream: each input's error says so.
        (code, output, _) = await RunAsync(null, "runremote:square_where", "--input", input, "--pool", broker.SharedPool, "--stream");
        Assert.Equal(1, code);
        Assert.All(Entries(output), e => Assert.Equal("TypeError", ErrorType(e)));
    }

    [Fact]
    public async Task ModuleTheHostsRefuse_StopsAtTheFirstRefusal_Exit2_NoEntryForIt()
    {
        var input = Write("in.jsonl", "not json", "\".\"", "\".\"");
        var output = Path.Combine(_dir, "out.jsonl");

        var (code, _, error) = await RunAsync(null, "os:getcwd", "--input", input, "--output", output, "--pool", broker.SharedPool);

        Assert.Equal(2, code);
        Assert.Contains("lifeguard run: the pool refused os:getcwd", error, StringComparison.Ordinal);
        Assert.Contains("--resume continues", error, StringComparison.Ordinal);

        // The input before it (no call: not JSON) has its entry; the refused one and those after it have none.
        var entries = Entries(File.ReadAllText(output));
        Assert.Equal(["InvalidInput"], entries.Select(ErrorType));
    }

    [Fact]
    public async Task PoisonInput_KillingItsHosts_IsAPoisonEntry_TheOthersSucceed()
    {
        var pool = RemoteRunFixture.NewPoolName();
        var hosts = await Task.WhenAll(
            broker.ServeAsync(pool, "p-a", "--size", "1", "--poison-threshold", "2"),
            broker.ServeAsync(pool, "p-b", "--size", "1", "--poison-threshold", "2"));
        var input = Write("in.jsonl", "\"a\"", "\"poison\"", "\"b\"", "\"c\"");

        // --retries makes the calls idempotent: the broker delivers a lost host's calls again, to the other host.
        var (code, output, error) = await RunAsync(null, "runremote:kill_host_on", "--input", input, "--pool", pool, "--retries", "1");

        Assert.Equal(1, code);
        var entries = Entries(output);
        Assert.Equal([null, "Poison", null, null], entries.Select(ErrorType));
        Assert.Contains("dead-letter queue", entries[1].GetProperty("error").GetProperty("message").GetString(), StringComparison.Ordinal);
        Assert.Equal(["a", "b", "c"], entries.Where(e => ErrorType(e) is null).Select(e => e.GetProperty("result").GetString()));
        Assert.Contains("4 inputs, 3 succeeded, 1 failed (Poison 1)", error, StringComparison.Ordinal);
        Assert.Single(hosts, h => h.HasExited);
    }

    [Fact]
    public async Task NoHostHeardWithin10s_Exit2_BeforeAnythingIsWritten()
    {
        var output = Path.Combine(_dir, "out.jsonl");
        var (code, stdout, error) = await RunAsync(null, "runremote:count", "--input", Write("in.jsonl", "1"), "--output", output, "--pool", RemoteRunFixture.NewPoolName());

        Assert.Equal(2, code);
        Assert.Equal("", stdout);
        Assert.Contains("no host of pool", error, StringComparison.Ordinal);
        Assert.Contains("within 10 s", error, StringComparison.Ordinal);
        Assert.False(File.Exists(output));
    }

    [Fact]
    public async Task QueueWithOtherArguments_Exit2_NamingMaxQueueLength()
    {
        var output = Path.Combine(_dir, "out.jsonl");
        var (code, _, error) = await RunAsync(null, "runremote:count", "--input", Write("in.jsonl", "1"), "--output", output, "--pool", broker.SharedPool, "--max-queue-length", "7");

        Assert.Equal(2, code);
        Assert.Contains("MaxQueueLength (7 here) must be the same", error, StringComparison.Ordinal);
        Assert.Single(error.TrimEnd().Split('\n'));
        Assert.False(File.Exists(output));
    }

    [Fact]
    public async Task NoBrokerNamed_Exit2()
    {
        var environment = broker.Environment();
        environment["LIFEGUARD_BROKER"] = null;
        var (code, _, error) = await RunAsync(environment, "runremote:count", "--input", Write("in.jsonl", "1"), "--pool", broker.SharedPool);

        Assert.Equal(2, code);
        Assert.Contains("--pool needs a broker: pass --broker URI, or set LIFEGUARD_BROKER", error, StringComparison.Ordinal);
    }

    /// <summary>Runs <c>lifeguard run ARGS</c> with the broker in the environment, and checks that its password was not printed.</summary>
    private async Task<(int ExitCode, string Output, string Error)> RunAsync(Dictionary<string, string?>? environment, params string[] args)
    {
        var result = await CliProcess.RunAsync(environment ?? broker.Environment(), ["run", .. args]);
        AssertNoPassword(result.Output + result.Error);
        return result;
    }

    private string Started(int n) => Path.Combine(_dir, $"started-{n}");

    private void AssertNoPassword(string printed) => Assert.DoesNotContain(broker.Password, printed, StringComparison.Ordinal);

    private static string? ErrorType(JsonElement entry) => entry.TryGetProperty("error", out var error) ? error.GetProperty("type").GetString() : null;

    private static JsonElement[] Entries(string output) => [.. output.Split('\n', StringSplitOptions.RemoveEmptyEntries).Select(l => JsonDocument.Parse(l).RootElement)];

    private string Write(string name, params string[] lines)
    {
        var path = Path.Combine(_dir, name);
        File.WriteAllLines(path, lines);
        return path;
    }
}
