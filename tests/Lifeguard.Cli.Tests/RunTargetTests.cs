using System.Text.Json;

namespace Lifeguard.Cli.Tests;

/// <summary>How <c>run</c> loads FILE and checks FUNCTION: any name works, and whatever fails does so before any input is read.</summary>
public sealed class RunTargetTests : IDisposable
{
    private readonly string _dir = Directory.CreateTempSubdirectory("lifeguard-target-").FullName;

    private static string Fixtures => Path.Combine(AppContext.BaseDirectory, "python");

    public void Dispose() => Directory.Delete(_dir, recursive: true);

    [Fact]
    public async Task Run_FileNamedJsonPy_LoadsWithoutShadowingTheStandardJsonAndImportsItsSibling()
    {
        var input = Write("in.jsonl", "3", "4");
        var (code, output, error) = await CliProcess.RunAsync("run", Path.Combine(Fixtures, "json.py") + ":describe", "--input", input, "--size", "1");

        Assert.True(code == 0, error);
        var results = Lines(output).Select(l => l.GetProperty("result")).ToList();
        Assert.Equal(["{\"x\": 3}", "{\"x\": 4}"], results.Select(r => r.GetProperty("dumped").GetString()));
        Assert.Equal([6, 8], results.Select(r => r.GetProperty("sibling").GetInt32()));
        Assert.All(results, r => Assert.NotEqual(Path.Combine(Fixtures, "json.py"), r.GetProperty("jsonFile").GetString()));
        Assert.All(results, r => Assert.NotEqual("json", r.GetProperty("name").GetString()));
    }

    [Fact]
    public async Task Run_FileNameWithDots_Loads()
    {
        var (code, output, error) = await CliProcess.RunAsync("run", Path.Combine(Fixtures, "my.mod.py") + ":hello", "--input", Write("in.jsonl", "\"you\""));
        Assert.True(code == 0, error);
        Assert.Equal("hello you", Lines(output).Single().GetProperty("result").GetString());
    }

    [Fact]
    public async Task Run_MissingFunction_Exit2BeforeAnyInputIsRead_ListingTheFilesCallablesNearestFirst()
    {
        var file = WriteFile(
            "work.py",
            "import os",
            "from os.path import join",
            "VALUE = 1",
            "def main():",
            "    pass",
            "def _private():",
            "    pass",
            "class worker_setup:",
            "    pass",
            "def work(x):",
            "    return x");

        var (code, error, outputFile) = await RunBeforeInputAsync(file + ":wrok");

        Assert.Equal(2, code);
        Assert.Equal("lifeguard run: work.py defines no function 'wrok'; it defines: work, worker_setup, main", error.TrimEnd());
        Assert.False(File.Exists(outputFile));

        var (notCallable, message, _) = await RunBeforeInputAsync(file + ":VALUE");
        Assert.Equal(2, notCallable);
        Assert.StartsWith("lifeguard run: 'VALUE' in work.py is not callable (it is of type int); it defines: ", message, StringComparison.Ordinal);
    }

    [Fact]
    public async Task Run_SyntaxError_Exit2BeforeAnyInputIsRead_WithPythonsErrorFileAndLine()
    {
        var file = WriteFile("broken.py", "import os", "", "def f(:", "    pass");
        var (code, error, outputFile) = await RunBeforeInputAsync(file + ":f");
        Assert.Equal(2, code);
        Assert.Single(error.TrimEnd().Split('\n'));
        Assert.StartsWith("lifeguard run: broken.py cannot be loaded: SyntaxError: ", error, StringComparison.Ordinal);
        Assert.Contains("(broken.py, line 3)", error, StringComparison.Ordinal);
        Assert.False(File.Exists(outputFile));
    }

    [Fact]
    public async Task Run_ImportError_Exit2BeforeAnyInputIsRead_WithPythonsErrorAndTheLine()
    {
        var file = WriteFile("needs.py", "import os", "import lifeguard_no_such_module", "def f(x):", "    return x");
        var (code, error, outputFile) = await RunBeforeInputAsync(file + ":f");
        Assert.Equal(2, code);
        Assert.Equal(
            "lifeguard run: needs.py cannot be loaded: ModuleNotFoundError: No module named 'lifeguard_no_such_module' (needs.py, line 2)",
            error.TrimEnd());
        Assert.False(File.Exists(outputFile));
    }

    [Fact]
    public async Task Run_FileRaisesOnImport_Exit2WithTheErrorAndTheLine()
    {
        var file = WriteFile("raises.py", "def f(x):", "    return x", "raise RuntimeError('not configured')");
        var (code, error, _) = await RunBeforeInputAsync(file + ":f");
        Assert.Equal(2, code);
        Assert.Equal("lifeguard run: raises.py cannot be loaded: RuntimeError: not configured (raises.py, line 3)", error.TrimEnd());
    }

    /// <summary>
    /// Runs with an input whose lines would be noticed if read (one is not JSON, so it would be reported as an error
    /// entry) and an --output that would be created: neither may happen.
    /// </summary>
    private async Task<(int Code, string Error, string OutputFile)> RunBeforeInputAsync(string target)
    {
        var input = Write("noticeable.jsonl", "1", "not json");
        var outputFile = Path.Combine(_dir, "out-" + Guid.NewGuid().ToString("N") + ".jsonl");
        var (code, output, error) = await CliProcess.RunAsync("run", target, "--input", input, "--output", outputFile);
        Assert.Equal("", output);
        Assert.DoesNotContain("InvalidInput", error, StringComparison.Ordinal);
        Assert.DoesNotContain("inputs,", error, StringComparison.Ordinal); // no summary: nothing ran
        return (code, error, outputFile);
    }

    private static List<JsonElement> Lines(string output)
        => [.. output.TrimEnd().Split('\n').Select(l => JsonDocument.Parse(l).RootElement)];

    private string WriteFile(string name, params string[] lines) => Write(name, lines);

    private string Write(string name, params string[] lines)
    {
        var path = Path.Combine(_dir, name);
        File.WriteAllLines(path, lines);
        return path;
    }
}
