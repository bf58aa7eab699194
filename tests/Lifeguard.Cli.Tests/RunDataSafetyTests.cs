using System.Globalization;
using System.Text;
using System.Text.Json;
using System.Text.RegularExpressions;

namespace Lifeguard.Cli.Tests;

/// <summary>
/// <c>lifeguard run</c> never loses a result: the output is an ordered prefix whatever ends the run, interrupts let
/// calls in flight finish, and <c>--resume</c> completes a killed run to the bytes of an uninterrupted one. Inputs that
/// wait at a gate (a release file the test creates) make every point in a run one the test chooses, not a time.
/// </summary>
public sealed partial class RunDataSafetyTests : IDisposable
{
    private readonly string _dir = Directory.CreateTempSubdirectory("lifeguard-safe-").FullName;

    private static string Fixture(string function) => Path.Combine(AppContext.BaseDirectory, "python", "runsafe.py") + ":" + function;

    public void Dispose() => Directory.Delete(_dir, recursive: true);

    [Theory]
    [InlineData("INT", 130)]
    [InlineData("TERM", 143)]
    public async Task Signal_CallsInFlightFinishWithinGrace_OrderedPrefixSummaryAndExitCode(string signal, int exitCode)
    {
        // 10 quick inputs, then 30 that wait: with 2 workers, inputs 10 and 11 are in flight when the signal comes.
        var input = Gated("in.jsonl", count: 40, waitFrom: 10);
        var output = Path.Combine(_dir, "out.jsonl");
        using var run = CliRun.Start("run", Fixture("gate"), "--input", input, "--output", output, "--size", "2", "--grace", "10m");
        var pids = await StartedAsync(10, 11);

        run.Signal(signal);
        await run.WaitForStderrAsync("interrupted; reading no more input");
        Release();

        Assert.Equal(exitCode, await run.WaitForExitAsync());
        AssertEntries(output, 12); // the two in flight finished; none after them started
        var summary = InterruptedSummary().Match(run.Stderr);
        Assert.True(summary.Success, run.Stderr);
        Assert.Equal("12", summary.Groups["written"].Value);
        Assert.InRange(int.Parse(summary.Groups["read"].Value, CultureInfo.InvariantCulture), 12, 40);
        Assert.Equal("", run.Stdout);
        foreach (var pid in pids)
        {
            await Poll.GoneAsync(pid);
        }
    }

    [Fact]
    public async Task SecondSignal_CancelsCallsInFlightWithoutWaitingForTheGrace()
    {
        var input = Gated("in.jsonl", count: 3, waitFrom: 1);
        var output = Path.Combine(_dir, "out.jsonl");
        using var run = CliRun.Start("run", Fixture("gate"), "--input", input, "--output", output, "--size", "2", "--grace", "10m");
        var pids = await StartedAsync(1, 2);

        run.Signal("INT");
        await run.WaitForStderrAsync("interrupted; reading no more input");
        run.Signal("INT");

        // Far inside the ten-minute grace: the second signal cancelled the calls (interrupt, then kill).
        Assert.Equal(130, await run.WaitForExitAsync(TimeSpan.FromMinutes(2)));
        Assert.Contains("interrupted again", run.Stderr, StringComparison.Ordinal);
        Assert.Contains("interrupted: 1 results written", run.Stderr, StringComparison.Ordinal);
        AssertEntries(output, 1);
        foreach (var pid in pids)
        {
            await Poll.GoneAsync(pid);
        }
    }

    [Fact]
    public async Task Sigkill_ThenResume_SameBytesAsAnUninterruptedRun()
    {
        var input = Gated("in.jsonl", count: 30, waitFrom: 10, blankEvery: 4);
        var output = Path.Combine(_dir, "out.jsonl");
        int[] pids;
        using (var run = CliRun.Start("run", Fixture("gate"), "--input", input, "--output", output, "--size", "2"))
        {
            pids = await StartedAsync(10, 11);

            // Flushed while the run is blocked, not only at its end: the ten finished results are in the file.
            await Poll.UntilAsync(() => File.Exists(output) && File.ReadAllLines(output).Length == 10, "the first 10 results to reach the file");
            run.Signal("KILL");
            await run.WaitForExitAsync();
        }

        // The workers notice their host is gone and exit by themselves.
        foreach (var pid in pids)
        {
            await Poll.GoneAsync(pid);
        }

        // A kill in the middle of a write leaves a torn last line; --resume drops it.
        await File.AppendAllTextAsync(output, "{\"index\":10,\"line\":1");
        Release();
        var (code, stdout, error) = await CliProcess.RunAsync("run", Fixture("gate"), "--input", input, "--output", output, "--size", "2", "--resume");
        Assert.True(code == 0, error);
        Assert.Equal("", stdout);
        Assert.Contains("10 of them kept from the earlier run", error, StringComparison.Ordinal);

        var uninterrupted = Path.Combine(_dir, "full.jsonl");
        Assert.Equal(0, (await CliProcess.RunAsync("run", Fixture("gate"), "--input", input, "--output", uninterrupted, "--size", "3")).ExitCode);
        Assert.Equal(File.ReadAllBytes(uninterrupted), File.ReadAllBytes(output));
    }

    [Fact]
    public async Task Resume_CompleteOutput_NoOpWithTheExitCodeItsEntriesImply()
    {
        var input = Write("in.jsonl", "{\"n\": 0}", "\"not an item\"", "{\"n\": 2}");
        var output = Path.Combine(_dir, "out.jsonl");
        var first = await CliProcess.RunAsync("run", Fixture("gate"), "--input", input, "--output", output);
        Assert.Equal(1, first.ExitCode); // the string input fails
        var before = File.ReadAllBytes(output);
        var stamp = File.GetLastWriteTimeUtc(output);

        var (code, _, error) = await CliProcess.RunAsync("run", Fixture("gate"), "--input", input, "--output", output, "--resume");

        Assert.Equal(1, code);
        Assert.Contains("nothing to do", error, StringComparison.Ordinal);
        Assert.Contains("3 inputs, 2 succeeded, 1 failed (AttributeError 1)", error, StringComparison.Ordinal);
        Assert.Equal(before, File.ReadAllBytes(output));
        Assert.Equal(stamp, File.GetLastWriteTimeUtc(output));
    }

    [Theory]
    [InlineData("another input's output")]
    [InlineData("not entries")]
    [InlineData("more entries than inputs")]
    public async Task Resume_OutputNotOfThisInput_RefusedWithExit2AndUntouched(string kind)
    {
        var input = Write("in.jsonl", "{\"n\": 0}", "", "{\"n\": 1}");
        var output = Path.Combine(_dir, "out.jsonl");
        var other = Write("other.jsonl", "{\"n\": 0}", "{\"n\": 1}", "{\"n\": 2}", "{\"n\": 3}");
        switch (kind)
        {
            case "another input's output": // no blank line: its second entry says line 2, this input's second is on line 3
                Assert.Equal(0, (await CliProcess.RunAsync("run", Fixture("gate"), "--input", other, "--output", output)).ExitCode);
                File.WriteAllLines(output, File.ReadLines(output).Take(2).ToArray());
                break;
            case "not entries":
                File.WriteAllText(output, "precious notes\nthat are not entries\n");
                break;
            default:
                Assert.Equal(0, (await CliProcess.RunAsync("run", Fixture("gate"), "--input", other, "--output", output)).ExitCode);
                File.WriteAllLines(output, File.ReadLines(output).Take(1).Concat(["{\"index\":1,\"line\":3,\"result\":1}", "{\"index\":2,\"line\":4,\"result\":2}"]).ToArray());
                break;
        }

        var before = File.ReadAllBytes(output);
        var (code, stdout, error) = await CliProcess.RunAsync("run", Fixture("gate"), "--input", input, "--output", output, "--resume");

        Assert.Equal(2, code);
        Assert.Equal("", stdout);
        Assert.Single(error.TrimEnd().Split('\n'));
        Assert.Contains("--resume", error, StringComparison.Ordinal);
        Assert.Equal(before, File.ReadAllBytes(output));
    }

    [Fact]
    public async Task Resume_WithoutOutput_Exit2()
    {
        var (code, _, error) = await CliProcess.RunAsync("run", Fixture("gate"), "--input", Write("in.jsonl", "{\"n\": 0}"), "--resume");
        Assert.Equal(2, code);
        Assert.Contains("--resume needs --output", error, StringComparison.Ordinal);
    }

    [Fact]
    public async Task Entries_CarryTheLineNumber_AndInvalidJsonIsPlacedByLineAndColumn()
    {
        var input = Write("in.jsonl", "{\"n\": 7}", "", "   ", "{\"n\": 8,, }", "[\"éé\", x]", "{\"n\": 9}");
        var (code, stdout, _) = await CliProcess.RunAsync("run", Fixture("gate"), "--input", input);

        Assert.Equal(1, code);
        var entries = stdout.TrimEnd().Split('\n').Select(l => JsonDocument.Parse(l).RootElement).ToArray();
        Assert.Equal([0, 1, 2, 3], entries.Select(e => e.GetProperty("index").GetInt32()));
        Assert.Equal([1, 4, 5, 6], entries.Select(e => e.GetProperty("line").GetInt32()));
        Assert.Equal(7, entries[0].GetProperty("result").GetInt32());
        Assert.Equal(9, entries[3].GetProperty("result").GetInt32());
        var comma = entries[1].GetProperty("error");
        Assert.Equal("InvalidInput", comma.GetProperty("type").GetString());
        Assert.StartsWith("line 4, column 9: ", comma.GetProperty("message").GetString(), StringComparison.Ordinal);
        var accented = entries[2].GetProperty("error").GetProperty("message").GetString();
        Assert.StartsWith("line 5, column 8: ", accented, StringComparison.Ordinal); // characters, not UTF-8 bytes
        Assert.DoesNotContain("BytePositionInLine", stdout, StringComparison.Ordinal);
    }

    [Theory]
    [InlineData("5000")]
    [InlineData("4KiB")]
    public async Task MaxFrameSize_LineOverIt_InputTooLargeEntryAndTheRestRun(string size)
    {
        var input = Write("in.jsonl", "{\"n\": 1}", JsonSerializer.Serialize(new { text = new string('a', 6000) }), "{\"n\": 2}");
        var (code, stdout, error) = await CliProcess.RunAsync("run", Fixture("gate"), "--input", input, "--max-frame-size", size);

        Assert.True(code == 1, error);
        var entries = stdout.TrimEnd().Split('\n').Select(l => JsonDocument.Parse(l).RootElement).ToArray();
        Assert.Equal(1, entries[0].GetProperty("result").GetInt32());
        var tooLarge = entries[1].GetProperty("error");
        Assert.Equal("InputTooLarge", tooLarge.GetProperty("type").GetString());
        Assert.Contains("line 2 is 6011 bytes", tooLarge.GetProperty("message").GetString(), StringComparison.Ordinal);
        Assert.Equal(2, entries[2].GetProperty("result").GetInt32());
    }

    [Theory]
    [InlineData("12x")]
    [InlineData("64MB")]
    [InlineData("100")]
    [InlineData("2GiB")]
    public async Task MaxFrameSize_NotASizeOrOutOfRange_Exit2(string size)
    {
        var (code, stdout, error) = await CliProcess.RunAsync("run", Fixture("gate"), "--input", Write("in.jsonl", "{\"n\": 1}"), "--max-frame-size", size);
        Assert.Equal(2, code);
        Assert.Equal("", stdout);
        Assert.Single(error.TrimEnd().Split('\n'));
        Assert.Contains("--max-frame-size", error, StringComparison.Ordinal);
    }

    /// <summary>
    /// A 70 MB line costs the command a small multiple of its size in peak resident memory (VmHWM) above a run of a
    /// small line: the line is held once as bytes and copied once into its frame, never decoded into a string or a
    /// parsed document.
    /// </summary>
    [Fact]
    public async Task SeventyMegabyteLine_PeakMemoryWithinFiveTimesItsSize()
    {
        const int Text = 70_000_000;
        var big = Path.Combine(_dir, "big.jsonl");
        await using (var file = new StreamWriter(big, append: false, new UTF8Encoding(false)))
        {
            await file.WriteAsync("{\"text\": \"");
            await file.WriteAsync(new string('a', Text));
            await file.WriteLineAsync("\"}");
        }

        var small = Write("small.jsonl", "{\"text\": \"aaaa\"}");
        var (smallPeak, smallOut) = await PeakAsync(small);
        var (bigPeak, bigOut) = await PeakAsync(big);

        Assert.Contains("\"result\":4}", smallOut, StringComparison.Ordinal);
        Assert.Contains("\"result\":70000000}", bigOut, StringComparison.Ordinal);
        long line = new FileInfo(big).Length;
        Assert.True(bigPeak - smallPeak <= 5 * line, $"peak {bigPeak >> 20} MiB with the 70 MB line, {smallPeak >> 20} MiB without: {(double)(bigPeak - smallPeak) / line:0.00} times the line");
    }

    /// <summary>The command's peak resident memory over a whole run (VmHWM, read until it exits).</summary>
    private static async Task<(long Peak, string Stdout)> PeakAsync(string input)
    {
        using var run = CliRun.Start("run", Fixture("size"), "--input", input, "--size", "1", "--max-frame-size", "128MiB");
        long peak = 0;
        var exit = run.WaitForExitAsync(TimeSpan.FromMinutes(3));
        while (!exit.IsCompleted)
        {
            peak = Math.Max(peak, Poll.StatusBytes(run.Pid, "VmHWM"));
            await Task.WhenAny(exit, Task.Delay(5));
        }

        Assert.True(await exit == 0, run.Stderr);
        return (peak, run.Stdout);
    }

    /// <summary>Inputs <c>{"n": i, "dir": ..., "wait": i &gt;= waitFrom}</c>, with a blank line after every <paramref name="blankEvery"/>.</summary>
    private string Gated(string name, int count, int waitFrom, int blankEvery = 0)
    {
        var lines = new List<string>();
        for (int i = 0; i < count; i++)
        {
            lines.Add(JsonSerializer.Serialize(new { n = i, dir = _dir, wait = i >= waitFrom }));
            if (blankEvery > 0 && i % blankEvery == blankEvery - 1)
            {
                lines.Add("");
            }
        }

        return Write(name, [.. lines]);
    }

    /// <summary>Waits until the gated inputs have started, and returns the pids of the workers running them.</summary>
    private async Task<int[]> StartedAsync(params int[] inputs)
    {
        var markers = inputs.Select(n => Path.Combine(_dir, $"started-{n}")).ToArray();
        await Poll.UntilAsync(() => markers.All(m => File.Exists(m) && new FileInfo(m).Length > 0), "the gated inputs to start");
        return markers.Select(m => int.Parse(File.ReadAllText(m), CultureInfo.InvariantCulture)).ToArray();
    }

    private void Release() => File.WriteAllText(Path.Combine(_dir, "release"), "");

    private static void AssertEntries(string output, int count)
    {
        var entries = File.ReadAllLines(output).Select(l => JsonDocument.Parse(l).RootElement).ToArray();
        Assert.Equal(Enumerable.Range(0, count), entries.Select(e => e.GetProperty("index").GetInt32()));
        Assert.Equal(Enumerable.Range(0, count), entries.Select(e => e.GetProperty("result").GetInt32()));
    }

    private string Write(string name, params string[] lines)
    {
        var path = Path.Combine(_dir, name);
        File.WriteAllLines(path, lines);
        return path;
    }

    [GeneratedRegex(@"interrupted: (?<written>\d+) results written, (?<read>\d+) inputs read")]
    private static partial Regex InterruptedSummary();
}
