
namespace Lifeguard.Python.Tests;

/// <summary><see cref="PythonPoolOptions.ModuleFiles"/> and <see cref="PythonPoolOptions.AppendedModulePaths"/>.</summary>
public sealed class PythonModuleFileTests : PythonTestBase
{
    private static string Loose => Path.Combine(FixturesPath, "loose");

    [Fact]
    public async Task ModuleFiles_FilesNamedLikeTheStandardLibraryOrWithDots_LoadUnderTheirNamesAndShadowNothing()
    {
        var options = Options("files");
        options.AppendedModulePaths.Add(Loose);
        options.ModuleFiles["loose_json"] = Path.Combine(Loose, "json.py");
        options.ModuleFiles["loose_mod"] = Path.Combine(Loose, "my.mod.py");
        await using var pool = await PythonPool.StartAsync(options);

        var described = await pool.CallAsync("loose_json", "describe", [3]);
        Assert.Equal("loose_json", described.GetProperty("name").GetString());
        Assert.True(described.GetProperty("registered").GetBoolean()); // in sys.modules before its code ran
        Assert.Equal("{\"x\": 3}", described.GetProperty("json").GetString()); // the standard json, inside the file
        Assert.DoesNotContain("loose", described.GetProperty("jsonFile").GetString(), StringComparison.Ordinal);
        Assert.Equal(6, described.GetProperty("point").GetProperty("y").GetInt32()); // sibling import, dataclass, pickle
        Assert.Equal("hello you", await pool.CallAsync<string>("loose_mod", "hello", ["you"]));
    }

    [Fact]
    public async Task AppendedModulePaths_GoAfterTheStandardLibrary_ModulePathsBefore()
    {
        var options = Options("paths");
        options.AppendedModulePaths.Add(Loose);
        await using var pool = await PythonPool.StartAsync(options);

        var path = await pool.CallAsync<string[]>("fixtures", "sys_path");
        Assert.NotNull(path);
        Assert.Equal(Loose, path[^1]);
        int stdlib = Array.FindIndex(path, p => File.Exists(Path.Combine(p, "os.py")));
        Assert.True(stdlib >= 0, string.Join(", ", path));
        Assert.True(Array.IndexOf(path, FixturesPath) < stdlib, "ModulePaths go in front of the standard library");
    }

    [Theory]
    [InlineData("broken_syntax.py", "SyntaxError", "broken_syntax.py, line 1")]
    [InlineData("loose/bad_import.py", "ModuleNotFoundError", "lifeguard_no_such_module_anywhere")]
    [InlineData("loose/missing.py", "FileNotFoundError", "missing.py")]
    public async Task ModuleFiles_FileFailsToLoad_StartFailsWithPythonsErrorTyped(string file, string type, string message)
    {
        var options = Options("badfile");
        options.ModuleFiles["target"] = Path.Combine(FixturesPath, file);
        var error = await Assert.ThrowsAsync<WorkerStartException>(() => PythonPool.StartAsync(options));
        var start = Assert.IsType<PythonStartException>(error.InnerException);
        Assert.Equal(type, start.PythonType);
        Assert.Contains(message, start.PythonMessage, StringComparison.Ordinal);
        Assert.Contains(type, start.Message, StringComparison.Ordinal);
        Assert.False(string.IsNullOrEmpty(start.PythonTraceback));
    }

    [Fact]
    public async Task ModuleFiles_NameOfAnImportedModule_Refused()
    {
        var options = Options("taken");
        options.ModuleFiles["json"] = Path.Combine(Loose, "my.mod.py");
        var error = await Assert.ThrowsAsync<WorkerStartException>(() => PythonPool.StartAsync(options));
        var start = Assert.IsType<PythonStartException>(error.InnerException);
        Assert.Equal("ImportError", start.PythonType);
        Assert.Contains("already imported", start.PythonMessage, StringComparison.Ordinal);
    }

    [Fact]
    public async Task StartAsync_InterpreterMissing_NoPythonErrorDetails()
    {
        var options = Options("nointerp");
        options.PythonPath = "/nonexistent/python3";
        var error = await Assert.ThrowsAsync<PythonStartException>(() => PythonPool.StartAsync(options));
        Assert.Null(error.PythonType);
        Assert.Null(error.PythonMessage);
    }

    [Theory]
    [InlineData("", "x.py", "is not a Python module name")]
    [InlineData("a.b", "x.py", "is not a Python module name")]
    [InlineData("1st", "x.py", "is not a Python module name")]
    [InlineData("has space", "x.py", "is not a Python module name")]
    [InlineData("fine", "", "must be a file")]
    public async Task ModuleFiles_InvalidEntry_ArgumentExceptionNamingIt(string name, string path, string expected)
    {
        var options = Options("invalid");
        options.ModuleFiles[name] = path;
        var error = await Assert.ThrowsAsync<ArgumentException>(() => PythonPool.StartAsync(options));
        Assert.Contains("ModuleFiles", error.Message, StringComparison.Ordinal);
        Assert.Contains(expected, error.Message, StringComparison.Ordinal);
    }

    [Fact]
    public async Task AppendedModulePaths_EmptyEntry_ArgumentException()
    {
        var options = Options("emptypath");
        options.AppendedModulePaths.Add("");
        var error = await Assert.ThrowsAsync<ArgumentException>(() => PythonPool.StartAsync(options));
        Assert.Contains("AppendedModulePaths", error.Message, StringComparison.Ordinal);
    }

    [Fact]
    public async Task ModuleFiles_LoadedInTheOrderAdded()
    {
        // The second file imports the first by its given name: that works only if the first was loaded first.
        var folder = Directory.CreateTempSubdirectory("lifeguard-files-").FullName;
        try
        {
            File.WriteAllText(Path.Combine(folder, "a.py"), "VALUE = 41\n");
            File.WriteAllText(Path.Combine(folder, "b.py"), "import first_file\n\ndef value():\n    return first_file.VALUE + 1\n");
            var options = Options("order");
            options.ModuleFiles["first_file"] = Path.Combine(folder, "a.py");
            options.ModuleFiles["second_file"] = Path.Combine(folder, "b.py");
            await using var pool = await PythonPool.StartAsync(options);
            Assert.Equal(42, await pool.CallAsync<int>("second_file", "value"));
        }
        finally
        {
            Directory.Delete(folder, recursive: true);
        }
    }

    [Fact]
    public void Defaults_NoFilesNoAppendedPathsNoOutputHandler()
    {
        var options = new PythonPoolOptions();
        Assert.Empty(options.ModuleFiles);
        Assert.Empty(options.AppendedModulePaths);
        Assert.Null(options.OnOutput);
    }
}
