using System.Diagnostics;
using System.Globalization;
using System.Text.Json;
using System.Text.RegularExpressions;
using Lifeguard.Python;
using Microsoft.Extensions.Time.Testing;
using Spectre.Console;

namespace Lifeguard.Cli.Tests;

/// <summary>The function's own output: forwarded to stderr as <c>[pid N] text</c>, rate-limited, dropped by --quiet.</summary>
public sealed partial class RunOutputTests : IDisposable
{
    private readonly string _dir = Directory.CreateTempSubdirectory("lifeguard-output-").FullName;

    private static string Fixture(string function) => Path.Combine(AppContext.BaseDirectory, "python", "runfix.py") + ":" + function;

    public void Dispose() => Directory.Delete(_dir, recursive: true);

    [Fact]
    public async Task Run_PrintFd1Fd2AndChildOutput_OnStderrWithTheWorkersPid_NeverInTheResults()
    {
        var input = Write("in.jsonl", "1", "2");
        var (code, output, error) = await CliProcess.RunAsync("run", Fixture("talk"), "--input", input, "--size", "2");

        Assert.True(code == 0, error);
        var results = output.TrimEnd().Split('\n').Select(l => JsonDocument.Parse(l).RootElement).ToList();
        Assert.Equal(2, results.Count); // every stdout line is a result: nothing forwarded was mixed in
        var lines = error.Split('\n').Select(l => l.TrimEnd('\r')).ToList();
        foreach (var (result, x) in results.Zip([1, 2]))
        {
            int pid = result.GetProperty("result").GetInt32();
            Assert.Contains($"[pid {pid}] printed {x}", lines);
            Assert.Contains($"[pid {pid}] fd1 {x}", lines);
            Assert.Contains($"[pid {pid}] fd2 {x}", lines);
            Assert.Contains($"[pid {pid}] child {x}", lines);
        }

        // The forwarded lines come before the summary.
        Assert.True(lines.FindLastIndex(l => l.StartsWith("[pid ", StringComparison.Ordinal)) < lines.FindIndex(l => l.Contains("inputs,", StringComparison.Ordinal)));
    }

    [Fact]
    public async Task Run_Quiet_DropsTheFunctionsOutput()
    {
        var input = Write("in.jsonl", "1", "2");
        var (code, output, error) = await CliProcess.RunAsync("run", Fixture("talk"), "--input", input, "--quiet");

        Assert.True(code == 0, error);
        Assert.Equal(2, output.TrimEnd().Split('\n').Length);
        Assert.DoesNotContain("[pid ", error, StringComparison.Ordinal);
        Assert.DoesNotContain("printed", error, StringComparison.Ordinal);
        Assert.Contains("2 inputs, 2 succeeded", error, StringComparison.Ordinal);
    }

    [Fact]
    public async Task Run_ThousandLinesAtOnce_CountedPast100PerSecondAndNoneLost()
    {
        var input = Write("in.jsonl", "1000");
        var clock = Stopwatch.StartNew();
        var (code, output, error) = await CliProcess.RunAsync("run", Fixture("chatter"), "--input", input, "--size", "1");
        var elapsed = clock.Elapsed;

        Assert.True(code == 0, error);
        Assert.Equal(1000, JsonDocument.Parse(output).RootElement.GetProperty("result").GetInt32());
        var lines = error.Split('\n');
        int shown = lines.Count(l => l.StartsWith("[pid ", StringComparison.Ordinal) && l.Contains(" chatter ", StringComparison.Ordinal));
        long counted = lines.Select(l => NotShown().Match(l)).Where(m => m.Success)
            .Sum(m => long.Parse(m.Groups["count"].Value, NumberStyles.AllowThousands, CultureInfo.InvariantCulture));

        Assert.True(counted > 0, error);
        Assert.Equal(1000, shown + counted); // every line is shown or counted
        Assert.InRange(shown, 1, (LinesPerSecondAllowance(elapsed) * RunOutputForwarder.LinesPerSecond) + RunOutputForwarder.LinesPerSecond);
    }

    [Fact]
    public void Forwarder_PastTheLimit_CountsAndReportsOncePerSecondThenShowsAgain()
    {
        var time = new FakeTimeProvider();
        var error = new StringWriter();
        using var forwarder = new RunOutputForwarder(error, time);

        for (int i = 0; i < 150; i++)
        {
            forwarder.Write(Line(i));
        }

        Assert.Equal(100, Shown(error));
        Assert.DoesNotContain("[lifeguard]", error.ToString(), StringComparison.Ordinal); // reported when the second is over

        time.Advance(TimeSpan.FromSeconds(1)); // the timer reports, with no further line needed
        Assert.Contains("[lifeguard] 50 lines of worker output not shown (over 100 lines/s)", error.ToString(), StringComparison.Ordinal);

        for (int i = 0; i < 1100; i++)
        {
            forwarder.Write(Line(i));
        }

        Assert.Equal(200, Shown(error));
        forwarder.Complete();
        var text = error.ToString();
        Assert.Contains("[lifeguard] 1,000 lines of worker output not shown (over 100 lines/s)", text, StringComparison.Ordinal);
        Assert.EndsWith("[lifeguard] 1,050 lines of worker output not shown in all" + Environment.NewLine, text, StringComparison.Ordinal);
        Assert.Equal(1050, forwarder.Suppressed);
        Assert.Equal("[pid 42] line 0", error.ToString().Split(Environment.NewLine)[0]);
    }

    [Fact]
    public void Forwarder_UnderTheLimit_ShowsEveryLineAndReportsNothing()
    {
        var time = new FakeTimeProvider();
        var error = new StringWriter();
        using var forwarder = new RunOutputForwarder(error, time);
        for (int second = 0; second < 5; second++)
        {
            for (int i = 0; i < RunOutputForwarder.LinesPerSecond; i++)
            {
                forwarder.Write(Line(i));
            }

            time.Advance(TimeSpan.FromSeconds(1));
        }

        forwarder.Complete();
        Assert.Equal(500, Shown(error));
        Assert.DoesNotContain("[lifeguard]", error.ToString(), StringComparison.Ordinal);
    }

    [Fact]
    public void Forwarder_OnTheProgressConsole_EscapeSequencesAndControlCharactersRemoved()
    {
        var time = new FakeTimeProvider();
        var terminal = new StringWriter();
        var console = AnsiConsole.Create(new AnsiConsoleSettings { Out = new AnsiConsoleOutput(terminal), Ansi = AnsiSupport.No, Interactive = InteractionSupport.No });
        var error = new StringWriter();
        using var forwarder = new RunOutputForwarder(error, time) { Console = console };

        forwarder.Write(new("run", 7, "\u001b[31mred\u001b[0m and \u001b[2Jcleared\u0007 [not markup]"));

        Assert.Equal("", error.ToString());
        Assert.Equal("[pid 7] red and cleared\uFFFD [not markup]", terminal.ToString().TrimEnd());
    }

    /// <summary>Seconds the run may have spent forwarding: all of it, rounded up, plus one for the window in progress.</summary>
    private static int LinesPerSecondAllowance(TimeSpan elapsed) => (int)Math.Ceiling(elapsed.TotalSeconds) + 1;

    private static PythonOutputLine Line(int i) => new("run", 42, "line " + i.ToString(CultureInfo.InvariantCulture));

    private static int Shown(StringWriter error) => error.ToString().Split(Environment.NewLine).Count(l => l.StartsWith("[pid ", StringComparison.Ordinal));

    [GeneratedRegex(@"^\[lifeguard\] (?<count>[\d,]+) lines? of worker output not shown \(over")]
    private static partial Regex NotShown();

    private string Write(string name, params string[] lines)
    {
        var path = Path.Combine(_dir, name);
        File.WriteAllLines(path, lines);
        return path;
    }
}
