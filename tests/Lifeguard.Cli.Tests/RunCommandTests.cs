using System.Diagnostics;
using System.Globalization;
using System.Text.Json;

namespace Lifeguard.Cli.Tests;

public sealed class RunCommandTests : IDisposable
{
    private readonly string _dir = Directory.CreateTempSubdirectory("lifeguard-run-").FullName;

    private static string Fixture(string function) => Path.Combine(AppContext.BaseDirectory, "python", "runfix.py") + ":" + function;

    public void Dispose() => Directory.Delete(_dir, recursive: true);

    /// <summary>A hard link made with ln, as an argv list (no shell).</summary>
    private static string HardLink(string existing, string link)
    {
        using var ln = Process.Start(new ProcessStartInfo("ln") { ArgumentList = { existing, link }, UseShellExecute = false })!;
        ln.WaitForExit();
        Assert.Equal(0, ln.ExitCode);
        return link;
    }

    [Fact]
    public async Task Run_MixedInputs_OneLinePerInputInOrderWithTypedErrors()
    {
        var input = Write("in.jsonl", "1", "", "\"raise\"", "not json", "   ", "21", "[1, 2]");
        var (code, output, error) = await CliProcess.RunAsync("run", Fixture("double"), "--input", input, "--size", "2");
        Assert.Equal(1, code); // some failed
        var lines = output.TrimEnd().Split('\n').Select(l => JsonDocument.Parse(l).RootElement).ToArray();
        Assert.Equal([0, 1, 2, 3, 4], lines.Select(l => l.GetProperty("index").GetInt32()));
        Assert.Equal(2, lines[0].GetProperty("result").GetInt32());
        Assert.Equal("ValueError", lines[1].GetProperty("error").GetProperty("type").GetString());
        Assert.Contains("cannot double", lines[1].GetProperty("error").GetProperty("message").GetString());
        Assert.Equal("InvalidInput", lines[2].GetProperty("error").GetProperty("type").GetString());
        Assert.Equal(42, lines[3].GetProperty("result").GetInt32());
        Assert.Equal("[1,2,1,2]", lines[4].GetProperty("result").GetRawText());
        Assert.Contains("5 inputs, 3 succeeded, 2 failed (InvalidInput 1, ValueError 1)", error);
        Assert.Contains("p50", error);
    }

    [Theory]
    [InlineData("same path")]
    [InlineData("another spelling")]
    [InlineData("symbolic link")]
    [InlineData("hard link")]
    public async Task Run_OutputIsTheInputFile_RefusedWithExit2AndTheInputUntouched(string spelling)
    {
        var input = Write("same.jsonl", "1", "2", "3");
        var before = File.ReadAllBytes(input);
        var output = spelling switch
        {
            "same path" => input,
            "another spelling" => Path.Combine(_dir, ".", "sub", "..", "same.jsonl"),
            "symbolic link" => File.CreateSymbolicLink(Path.Combine(_dir, "link.jsonl"), input).FullName,
            _ => HardLink(input, Path.Combine(_dir, "hard.jsonl")),
        };
        Directory.CreateDirectory(Path.Combine(_dir, "sub"));

        var (code, stdout, error) = await CliProcess.RunAsync("run", Fixture("double"), "--input", input, "--output", output);

        Assert.Equal(2, code);
        Assert.Equal("", stdout);
        Assert.Contains("is the input file", error, StringComparison.Ordinal);
        Assert.Single(error.TrimEnd().Split('\n'));
        Assert.Equal(before, File.ReadAllBytes(input));
    }

    [Theory]
    [InlineData("missing folder")]
    [InlineData("a directory")]
    [InlineData("under a file")]
    public async Task Run_BadOutputPath_OneLineAndExit2BeforeAnythingIsWritten(string kind)
    {
        var input = Write("in.jsonl", "1");
        File.WriteAllText(Path.Combine(_dir, "plain.txt"), "keep");
        var output = kind switch
        {
            "missing folder" => Path.Combine(_dir, "no-such-folder", "out.jsonl"),
            "a directory" => Directory.CreateDirectory(Path.Combine(_dir, "folder")).FullName,
            _ => Path.Combine(_dir, "plain.txt", "out.jsonl"),
        };

        var (code, stdout, error) = await CliProcess.RunAsync("run", Fixture("double"), "--input", input, "--output", output);

        Assert.Equal(2, code);
        Assert.Equal("", stdout);
        Assert.Single(error.TrimEnd().Split('\n'));
        Assert.StartsWith("lifeguard", error, StringComparison.Ordinal);
        Assert.DoesNotContain(" at ", error, StringComparison.Ordinal); // no stack trace
        Assert.Equal("keep", File.ReadAllText(Path.Combine(_dir, "plain.txt")));
    }

    [Fact]
    public async Task Run_InputIsADirectory_OneLineAndExit2()
    {
        var (code, _, error) = await CliProcess.RunAsync("run", Fixture("double"), "--input", _dir);
        Assert.Equal(2, code);
        Assert.Contains("is a directory", error, StringComparison.Ordinal);
        Assert.Single(error.TrimEnd().Split('\n'));
    }

    [Fact]
    public async Task Run_AllSucceed_ExitCode0AndOutputFile()
    {
        var input = Write("in.jsonl", Enumerable.Range(0, 50).Select(i => i.ToString(CultureInfo.InvariantCulture)).ToArray());
        var outputFile = Path.Combine(_dir, "out.jsonl");
        var (code, output, _) = await CliProcess.RunAsync("run", Fixture("double"), "--input", input, "--output", outputFile);
        Assert.Equal(0, code);
        Assert.Equal("", output);
        var results = File.ReadLines(outputFile).Select(l => JsonDocument.Parse(l).RootElement.GetProperty("result").GetInt32());
        Assert.Equal(Enumerable.Range(0, 50).Select(i => i * 2), results);
    }

    [Fact]
    public async Task Run_WorkerCrashes_RetriedWithRetriesAndReportedWithout()
    {
        var items = Enumerable.Range(0, 12).Select(n => JsonSerializer.Serialize(new { n, dir = Path.Combine(_dir, "first") })).ToArray();
        Directory.CreateDirectory(Path.Combine(_dir, "first"));
        var (failedCode, failedOut, _) = await CliProcess.RunAsync("run", Fixture("crash_once"), "--input", Write("a.jsonl", items), "--size", "2");
        Assert.Equal(1, failedCode);
        var errors = failedOut.TrimEnd().Split('\n').Select(l => JsonDocument.Parse(l).RootElement)
            .Where(l => l.TryGetProperty("error", out _)).Select(l => l.GetProperty("error").GetProperty("type").GetString()).ToList();
        Assert.Equal(4, errors.Count); // n = 0, 3, 6, 9
        Assert.All(errors, t => Assert.Equal("WorkerCrashed", t));

        var retried = Enumerable.Range(0, 12).Select(n => JsonSerializer.Serialize(new { n, dir = Path.Combine(_dir, "second") })).ToArray();
        Directory.CreateDirectory(Path.Combine(_dir, "second"));
        var (code, output, summary) = await CliProcess.RunAsync("run", Fixture("crash_once"), "--input", Write("b.jsonl", retried), "--size", "2", "--retries", "1");
        Assert.Equal(0, code);
        Assert.Equal(Enumerable.Range(0, 12), output.TrimEnd().Split('\n').Select(l => JsonDocument.Parse(l).RootElement.GetProperty("result").GetInt32()));
        Assert.Contains("4 died and were replaced", summary);
    }

    [Fact]
    public async Task Run_RaisedErrorsAreNeverRetried()
    {
        var (code, output, _) = await CliProcess.RunAsync("run", Fixture("double"), "--input", Write("in.jsonl", "\"raise\""), "--retries", "3");
        Assert.Equal(1, code);
        Assert.Contains("ValueError", output);
    }

    [Fact]
    public async Task Run_CallPastTimeout_TimeoutEntry()
    {
        var (code, output, _) = await CliProcess.RunAsync("run", Fixture("slow"), "--input", Write("in.jsonl", "30", "0"), "--timeout", "2s", "--size", "1");
        Assert.Equal(1, code);
        var lines = output.TrimEnd().Split('\n').Select(l => JsonDocument.Parse(l).RootElement).ToArray();
        Assert.Equal("Timeout", lines[0].GetProperty("error").GetProperty("type").GetString());
        Assert.Equal(0, lines[1].GetProperty("result").GetInt32());
    }

    [Theory]
    [InlineData("nofile.py:f")]
    [InlineData("runfix.py")]
    public async Task Run_BadTarget_ExitCode2(string target)
    {
        var (code, output, error) = await CliProcess.RunAsync("run", target, "--input", Write("in.jsonl", "1"));
        Assert.Equal(2, code);
        Assert.Equal("", output);
        Assert.Single(error.TrimEnd().Split('\n'));
    }

    [Fact]
    public async Task Run_MissingInputOrBadTimeout_ExitCode2()
    {
        Assert.Equal(2, (await CliProcess.RunAsync("run", Fixture("double"), "--input", Path.Combine(_dir, "missing.jsonl"))).ExitCode);
        Assert.Equal(2, (await CliProcess.RunAsync("run", Fixture("double"), "--input", Write("in.jsonl", "1"), "--timeout", "soon")).ExitCode);
        Assert.Equal(2, (await CliProcess.RunAsync("run", Fixture("double"))).ExitCode);
    }

    [Fact]
    public async Task Run_HundredThousandLines_InOrderWithBoundedMemory()
    {
        const int Lines = 100_000;
        var input = Path.Combine(_dir, "big.jsonl");
        await using (var writer = new StreamWriter(input))
        {
            for (int i = 0; i < Lines; i++)
            {
                await writer.WriteLineAsync(i.ToString(CultureInfo.InvariantCulture));
            }
        }

        var outputFile = Path.Combine(_dir, "big.out.jsonl");
        var info = new ProcessStartInfo(Environment.ProcessPath ?? "dotnet") { RedirectStandardError = true, RedirectStandardOutput = true, UseShellExecute = false };
        foreach (var arg in new[] { Path.Combine(AppContext.BaseDirectory, "Lifeguard.Cli.dll"), "run", Fixture("double"), "--input", input, "--output", outputFile, "--size", "2" })
        {
            info.ArgumentList.Add(arg);
        }

        using var process = Process.Start(info)!;
        var stderr = process.StandardError.ReadToEndAsync();
        long peakRss = 0;
        var deadline = Environment.TickCount64 + 240_000;
        while (!process.HasExited && Environment.TickCount64 < deadline)
        {
            peakRss = Math.Max(peakRss, Poll.StatusBytes(process.Id, "VmRSS"));
            await Task.Delay(50);
        }

        if (!process.HasExited)
        {
            process.Kill();
        }

        await process.WaitForExitAsync();
        Assert.True(process.ExitCode == 0, await stderr);

        // The whole input is ~0.6 MB, its results ~2.7 MB: the point is that nothing grows with the line count
        // (tasks, parsed arguments and results stay within the reorder window).
        Assert.InRange(peakRss, 1, 300L * 1024 * 1024);
        long expected = 0;
        foreach (var line in File.ReadLines(outputFile))
        {
            using var entry = JsonDocument.Parse(line);
            Assert.Equal(expected, entry.RootElement.GetProperty("index").GetInt64());
            Assert.Equal(expected * 2, entry.RootElement.GetProperty("result").GetInt64());
            expected++;
        }

        Assert.Equal(Lines, expected);
    }

    [Fact]
    public async Task Run_WithVenv_WorkersRunItsInterpreter_Activated()
    {
        var venv = Path.Combine(_dir, "venv");
        var python = Environment.GetEnvironmentVariable("LIFEGUARD_PYTHON") is { Length: > 0 } configured ? configured : "python3";
        var make = await Lifeguard.Testing.TestProcess.RunAsync(new ProcessStartInfo(python) { ArgumentList = { "-m", "venv", "--without-pip", venv } });
        Assert.True(make.ExitCode == 0, make.Error);

        var (code, output, error) = await CliProcess.RunAsync("run", Fixture("interpreter"), "--input", Write("in.jsonl", "1"), "--size", "1", "--venv", venv);

        Assert.True(code == 0, error);
        var result = JsonDocument.Parse(output.TrimEnd()).RootElement.GetProperty("result");
        Assert.Equal(venv, result.GetProperty("prefix").GetString());
        Assert.Equal(venv, result.GetProperty("virtual_env").GetString());
    }

    [Fact]
    public async Task Run_WithPythonAndVenv_Exit2()
    {
        var (code, output, error) = await CliProcess.RunAsync("run", Fixture("double"), "--input", Write("in.jsonl", "1"), "--python", "python3", "--venv", _dir);

        Assert.Equal(2, code);
        Assert.Equal("", output);
        Assert.Contains("--python and --venv cannot both be given", error, StringComparison.Ordinal);
    }

    [Fact]
    public async Task Run_WithAMissingVenv_Exit2NamingIt()
    {
        var missing = Path.Combine(_dir, "no-such-venv");
        var (code, output, error) = await CliProcess.RunAsync("run", Fixture("double"), "--input", Write("in.jsonl", "1"), "--venv", missing);

        Assert.Equal(2, code);
        Assert.Equal("", output);
        Assert.Contains(missing, error, StringComparison.Ordinal);
    }

    private string Write(string name, params string[] lines)
    {
        var path = Path.Combine(_dir, name);
        File.WriteAllLines(path, lines);
        return path;
    }
}
