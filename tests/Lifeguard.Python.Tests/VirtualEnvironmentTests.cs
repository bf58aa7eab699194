using System.Diagnostics;
using Lifeguard.Testing;

namespace Lifeguard.Python.Tests;

/// <summary>
/// A virtual environment made by <c>python3 -m venv --without-pip</c>, holding a module that nothing else on the
/// machine has, once for the class.
/// </summary>
public sealed class VenvFixture : IAsyncLifetime
{
    public const string OnlyModule = "lifeguard_venv_only";

    private readonly DirectoryInfo _folder = Directory.CreateTempSubdirectory("lifeguard-venv-");

    /// <summary>The virtual environment's folder.</summary>
    public string Path => System.IO.Path.Combine(_folder.FullName, "venv");

    public async Task InitializeAsync()
    {
        await RunAsync(InterpreterResolver.Requested(null), "-m", "venv", "--without-pip", Path);
        var purelib = (await RunAsync(System.IO.Path.Combine(Path, "bin", "python3"), "-c", "import sysconfig; print(sysconfig.get_paths()['purelib'])")).Trim();
        Assert.StartsWith(Path, purelib, StringComparison.Ordinal);
        File.WriteAllText(
            System.IO.Path.Combine(purelib, OnlyModule + ".py"),
            "import os\nimport sys\n\n\ndef where():\n    return {\"prefix\": sys.prefix, \"virtual_env\": os.environ.get(\"VIRTUAL_ENV\"), \"path\": os.environ.get(\"PATH\"), \"pythonhome\": os.environ.get(\"PYTHONHOME\")}\n");
    }

    public Task DisposeAsync()
    {
        _folder.Delete(recursive: true);
        return Task.CompletedTask;
    }

    /// <summary>Runs a program to its end; its standard output.</summary>
    private static async Task<string> RunAsync(string program, params string[] arguments)
    {
        var info = new ProcessStartInfo(program);
        foreach (var argument in arguments)
        {
            info.ArgumentList.Add(argument);
        }

        var (exitCode, output, error) = await TestProcess.RunAsync(info);
        Assert.True(exitCode == 0, $"{program} {string.Join(' ', arguments)} failed: {error}");
        return output;
    }
}

/// <summary><see cref="PythonPoolOptions.VirtualEnvironment"/> on a real virtual environment.</summary>
public sealed class VirtualEnvironmentTests(VenvFixture venv) : PythonTestBase, IClassFixture<VenvFixture>
{
    [Theory]
    [InlineData(PythonStartMode.Spawn)]
    [InlineData(PythonStartMode.ForkServer)]
    public async Task APoolOnTheVenv_RunsItsInterpreter_CallsItsModule_AndIsActivated(PythonStartMode mode)
    {
        var options = Options("venv-" + mode);
        options.StartMode = mode;
        options.VirtualEnvironment = venv.Path;
        options.Preload.Add(VenvFixture.OnlyModule);

        // Activation drops it: were it kept, the interpreter would look for its standard library there and not start.
        options.Environment["PYTHONHOME"] = "/nonexistent/python-home";
        await using var pool = await PythonPool.StartAsync(options);

        await using var lease = await pool.CheckoutAsync();
        Assert.Equal(mode == PythonStartMode.ForkServer, lease.Worker.IsForked);
        var where = await lease.Worker.CallAsync<Dictionary<string, string?>>(VenvFixture.OnlyModule, "where") ?? throw new InvalidOperationException("no result");
        Assert.Equal(venv.Path, where["prefix"]);
        Assert.Equal(venv.Path, where["virtual_env"]);
        Assert.StartsWith(Path.Combine(venv.Path, "bin") + Path.PathSeparator, where["path"] ?? "", StringComparison.Ordinal);
        Assert.Null(where["pythonhome"]);
    }

    [Fact]
    public async Task APoolWithoutTheVenv_FailsItsStart_WithModuleNotFoundError()
    {
        var options = Options("no-venv");
        options.Preload.Add(VenvFixture.OnlyModule);

        var error = await Assert.ThrowsAsync<WorkerStartException>(() => PythonPool.StartAsync(options));

        var start = Assert.IsType<PythonStartException>(error.InnerException);
        Assert.Equal("ModuleNotFoundError", start.PythonType);
        Assert.Contains(VenvFixture.OnlyModule, start.PythonMessage, StringComparison.Ordinal);
    }

    [Fact]
    public async Task ARelativeVenvPath_IsResolvedAgainstTheCurrentDirectory()
    {
        var options = Options("venv-relative");
        options.VirtualEnvironment = Path.GetRelativePath(Environment.CurrentDirectory, venv.Path);
        Assert.False(Path.IsPathRooted(options.VirtualEnvironment));
        await using var pool = await PythonPool.StartAsync(options);

        Assert.Equal(venv.Path, await pool.CallAsync<string>("worker_env", "env", ["VIRTUAL_ENV"]));
        Assert.Equal(venv.Path, await pool.CallAsync<string>("worker_env", "prefix"));
    }

    [Fact]
    public async Task AMissingVenvFolder_FailsTheStart_NamingThePath()
    {
        var missing = Path.Combine(venv.Path, "..", "no-such-venv");
        var options = Options("venv-missing");
        options.VirtualEnvironment = missing;

        var error = await Assert.ThrowsAsync<PythonStartException>(() => PythonPool.StartAsync(options));

        Assert.Contains(Path.GetFullPath(missing), error.Message, StringComparison.Ordinal);
        Assert.Contains("does not exist", error.Message, StringComparison.Ordinal);
    }

    [Fact]
    public async Task AFolderWithoutAnInterpreter_FailsTheStart_NamingThePath()
    {
        var empty = Directory.CreateTempSubdirectory("lifeguard-not-a-venv-");
        try
        {
            var options = Options("venv-empty");
            options.VirtualEnvironment = empty.FullName;

            var error = await Assert.ThrowsAsync<PythonStartException>(() => PythonPool.StartAsync(options));

            Assert.Contains(Path.Combine(empty.FullName, "bin", "python3"), error.Message, StringComparison.Ordinal);
            Assert.Contains("no Python interpreter", error.Message, StringComparison.Ordinal);
        }
        finally
        {
            empty.Delete(recursive: true);
        }
    }

    [Fact]
    public async Task AVenvWhosePythonWasRemoved_FailsTheStart_NamingTheBrokenLink()
    {
        var broken = Directory.CreateTempSubdirectory("lifeguard-broken-venv-");
        try
        {
            var bin = Directory.CreateDirectory(Path.Combine(broken.FullName, "bin"));
            File.CreateSymbolicLink(Path.Combine(bin.FullName, "python3"), "/nonexistent/lifeguard/python3");
            var options = Options("venv-broken");
            options.VirtualEnvironment = broken.FullName;

            var error = await Assert.ThrowsAsync<PythonStartException>(() => PythonPool.StartAsync(options));

            Assert.Contains("is broken", error.Message, StringComparison.Ordinal);
            Assert.Contains(Path.Combine(bin.FullName, "python3"), error.Message, StringComparison.Ordinal);
            Assert.Contains("/nonexistent/lifeguard/python3", error.Message, StringComparison.Ordinal);
        }
        finally
        {
            broken.Delete(recursive: true);
        }
    }

    [Fact]
    public void VenvAndPythonPathTogether_AreAnOptionsErrorNamingBoth()
    {
        var options = new PythonPoolOptions { Name = "both", VirtualEnvironment = venv.Path, PythonPath = "/usr/bin/python3" };

        var error = Assert.Throws<ArgumentException>(options.Validate);

        Assert.Contains("VirtualEnvironment and PythonPath are both set", error.Message, StringComparison.Ordinal);
        Assert.Contains(venv.Path, error.Message, StringComparison.Ordinal);
    }

    [Fact]
    public void AnEmptyVenvPath_IsAnOptionsError()
    {
        var options = new PythonPoolOptions { Name = "empty", VirtualEnvironment = "" };

        var error = Assert.Throws<ArgumentException>(options.Validate);

        Assert.Contains("VirtualEnvironment must be null or a folder", error.Message, StringComparison.Ordinal);
    }

    [Fact]
    public void Activation_SetsVirtualEnv_PutsItsBinFirstOnPath_AndDropsPythonHome()
    {
        var environment = new Dictionary<string, string?> { ["PATH"] = "/usr/bin:/bin", ["PYTHONHOME"] = "/opt/python" };
        VenvActivation.Activate(environment, "/srv/venv");
        Assert.Equal("/srv/venv", environment["VIRTUAL_ENV"]);
        Assert.Equal("/srv/venv/bin:/usr/bin:/bin", environment["PATH"]);
        Assert.False(environment.ContainsKey("PYTHONHOME"));

        var bare = new Dictionary<string, string?>();
        VenvActivation.Activate(bare, "/srv/venv");
        Assert.Equal("/srv/venv/bin", bare["PATH"]);
    }
}
