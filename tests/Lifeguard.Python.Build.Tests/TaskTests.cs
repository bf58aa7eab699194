using Microsoft.Build.Utilities;

namespace Lifeguard.Python.Build.Tests;

/// <summary>The task itself, run in process on a recording engine, on modules in a temporary folder.</summary>
public sealed class TaskTests : IDisposable
{
    private readonly DirectoryInfo _folder = Directory.CreateTempSubdirectory("lifeguard-task-");

    public void Dispose() => _folder.Delete(recursive: true);

    [Fact]
    public void A_syntax_error_fails_with_Pythons_message_at_its_file_line_and_column_and_writes_nothing()
    {
        var (task, engine) = Task(("broken.py", "def ok() -> int:\n    return 1\n\ndef broken(:\n    pass\n"));

        Assert.False(task.Execute());

        var error = Assert.Single(engine.Errors);
        Assert.Equal("LG1001", error.Code);
        Assert.Equal(Path.Combine(_folder.FullName, "broken.py"), error.File);
        Assert.Equal(4, error.LineNumber);
        Assert.Equal(12, error.ColumnNumber);
        Assert.StartsWith("SyntaxError: ", error.Message, StringComparison.Ordinal);
        Assert.Contains("Python 3.", error.Message, StringComparison.Ordinal);
        Assert.False(File.Exists(Output("broken")));
    }

    [Fact]
    public void A_message_with_braces_is_logged_as_Python_wrote_it()
    {
        var (task, engine) = Task(("braces.py", "x = f'{'\n"));

        Assert.False(task.Execute());

        var error = Assert.Single(engine.Errors);
        Assert.Matches("^SyntaxError: .*'[{}]'", error.Message);
        Assert.Equal(1, error.LineNumber);
    }

    [Fact]
    public void A_module_whose_imports_are_missing_still_generates()
    {
        var (task, engine) = Task(("scores.py", """
            import numpy as np
            from not_installed import Model

            def score(data: np.ndarray, threshold: float = 0.5) -> float:
                return float(data.mean())

            def label(model: Model) -> str: ...
            """));

        Assert.True(task.Execute());

        Assert.Empty(engine.Errors);
        var code = File.ReadAllText(Output("scores"));
        Assert.Contains("ScoreAsync(global::System.Text.Json.JsonElement data, double threshold = 0.5", code, StringComparison.Ordinal);
        Assert.Contains("LabelAsync(global::System.Text.Json.JsonElement model", code, StringComparison.Ordinal);
        Assert.Equal(["LG1102", "LG1102"], engine.Warnings.Select(w => w.Code));
        Assert.All(engine.Warnings, w => Assert.Equal(Path.Combine(_folder.FullName, "scores.py"), w.File));
        Assert.Equal([4, 7], engine.Warnings.Select(w => w.LineNumber));
        Assert.Equal(Output("scores"), Assert.Single(task.GeneratedFiles).ItemSpec);
    }

    [Fact]
    public void Every_module_is_read_by_one_python3_and_each_gets_its_own_file_and_metadata()
    {
        var (task, engine) = Task(("one.py", "def a() -> int: ...\n"), ("two.py", "def b() -> str: ...\n"));
        task.Modules[1].SetMetadata("Module", "pkg.second");
        task.Modules[1].SetMetadata("Namespace", "Other.Place");
        task.Modules[1].SetMetadata("ClassName", "Second");

        Assert.True(task.Execute(), string.Join("\n", engine.Errors.Select(e => e.Message)));

        Assert.Contains("public sealed class One : global::App.IOne", File.ReadAllText(Output("one")), StringComparison.Ordinal);
        var second = File.ReadAllText(Output("two"));
        Assert.Contains("namespace Other.Place", second, StringComparison.Ordinal);
        Assert.Contains("public sealed class Second : global::Other.Place.ISecond", second, StringComparison.Ordinal);
        Assert.Contains("public const string ModuleName = \"pkg.second\";", second, StringComparison.Ordinal);
    }

    [Theory]
    [InlineData("Module", "not-a-module")]
    [InlineData("Namespace", "My..Space")]
    [InlineData("ClassName", "class")]
    public void Metadata_that_cannot_be_used_fails_naming_it(string name, string value)
    {
        var (task, engine) = Task(("mod.py", "def a() -> int: ...\n"));
        task.Modules[0].SetMetadata(name, value);

        Assert.False(task.Execute());

        var error = Assert.Single(engine.Errors);
        Assert.Equal("LG1003", error.Code);
        Assert.Contains($"{name} '{value}'", error.Message, StringComparison.Ordinal);
    }

    [Fact]
    public void A_python_that_cannot_be_started_fails_naming_it_and_the_property_to_set()
    {
        var (task, engine) = Task(("mod.py", "def a() -> int: ...\n"));
        task.Python = Path.Combine(_folder.FullName, "no-such-python");

        Assert.False(task.Execute());

        var error = Assert.Single(engine.Errors);
        Assert.Equal("LG1002", error.Code);
        Assert.Contains("no-such-python", error.Message, StringComparison.Ordinal);
        Assert.Contains("LifeguardPython", error.Message, StringComparison.Ordinal);
    }

    [Fact]
    public void Syntax_newer_than_the_build_machines_python3_is_a_syntax_error_there()
    {
        // Type parameter syntax is Python 3.12's: an older python3 cannot parse it, a newer one reads T as no C# type.
        var (task, engine) = Task(("generic.py", "def first[T](items: list[T]) -> T:\n    return items[0]\n"));
        var version = Version.Parse(PythonVersion());

        var succeeded = task.Execute();

        if (version < new Version(3, 12))
        {
            Assert.False(succeeded);
            var error = Assert.Single(engine.Errors);
            Assert.Equal("LG1001", error.Code);
            Assert.Equal(1, error.LineNumber);
            Assert.Contains($"Python {version}", error.Message, StringComparison.Ordinal);
        }
        else
        {
            Assert.True(succeeded);
            Assert.All(engine.Warnings, w => Assert.Equal("LG1101", w.Code));
        }
    }

    private (GeneratePythonBindings Task, RecordingBuildEngine Engine) Task(params (string Name, string Source)[] modules)
    {
        var engine = new RecordingBuildEngine();
        var items = modules.Select(m =>
        {
            var path = Path.Combine(_folder.FullName, m.Name);
            File.WriteAllText(path, m.Source);
            var item = new TaskItem(path);
            item.SetMetadata("Namespace", "App");
            item.SetMetadata("GeneratedFile", Output(Path.GetFileNameWithoutExtension(m.Name)));
            return (Microsoft.Build.Framework.ITaskItem)item;
        });
        var task = new GeneratePythonBindings { BuildEngine = engine, Modules = [.. items], Python = Generator.Python, Script = Generator.Script };
        return (task, engine);
    }

    private string Output(string stem) => Path.Combine(_folder.FullName, "obj", stem + ".g.cs");

    private static string PythonVersion()
    {
        var start = new System.Diagnostics.ProcessStartInfo(Generator.Python) { RedirectStandardOutput = true, UseShellExecute = false };
        start.ArgumentList.Add("-c");
        start.ArgumentList.Add("import platform; print(platform.python_version())");
        using var process = System.Diagnostics.Process.Start(start)!;
        var version = process.StandardOutput.ReadToEnd().Trim();
        process.WaitForExit();
        return version;
    }
}
