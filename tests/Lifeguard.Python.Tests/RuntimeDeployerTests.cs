namespace Lifeguard.Python.Tests;

/// <summary>Where the embedded runtime is written: never a folder another user could have prepared.</summary>
public sealed class RuntimeDeployerTests
{
    private const UnixFileMode Private = UnixFileMode.UserRead | UnixFileMode.UserWrite | UnixFileMode.UserExecute;

    [Theory]
    [InlineData(null, null)]
    [InlineData("", "")]
    [InlineData("relative/cache", null)]
    public void CacheRoot_UserWithNoHome_NotTheSharedTemporaryDirectory(string? xdgCacheHome, string? home)
        => Assert.Null(RuntimeDeployer.CacheRoot(xdgCacheHome, home));

    [Fact]
    public void CacheRoot_XdgCacheHomeElseHomeCache()
    {
        Assert.Equal("/srv/cache", RuntimeDeployer.CacheRoot("/srv/cache", "/home/someone"));
        Assert.Equal("/home/someone/.cache", RuntimeDeployer.CacheRoot("relative", "/home/someone"));
    }

    [Fact]
    [System.Runtime.Versioning.UnsupportedOSPlatform("windows")]
    public void Deploy_NoCacheRoot_AFreshPrivateFolderEveryTime()
    {
        // A host with no home used to deploy to <temp>/lifeguard/runtime-<hash>: a name anyone could compute, in a
        // folder anyone could create first and fill with their own lifeguard_worker.py.
        var first = RuntimeDeployer.Deploy(cacheRoot: null);
        var second = RuntimeDeployer.Deploy(cacheRoot: null);
        try
        {
            Assert.NotEqual(first, second);
            foreach (var folder in new[] { first, second })
            {
                Assert.Equal(Private, File.GetUnixFileMode(folder));
                Assert.True(File.Exists(Path.Combine(folder, "lifeguard_worker.py")));
                Assert.True(File.Exists(Path.Combine(folder, "lifeguard", "_runtime.py")));
                Assert.DoesNotContain(Path.Combine(Path.GetTempPath(), "lifeguard") + Path.DirectorySeparatorChar, folder + Path.DirectorySeparatorChar, StringComparison.Ordinal);
            }
        }
        finally
        {
            Directory.Delete(first, recursive: true);
            Directory.Delete(second, recursive: true);
        }
    }

    [Fact]
    public void Deploy_UnderACacheRoot_ContentAddressedAndReused()
    {
        var root = Directory.CreateTempSubdirectory("lifeguard-cache-test-").FullName;
        try
        {
            var first = RuntimeDeployer.Deploy(root);
            Assert.StartsWith(Path.Combine(root, "lifeguard", "runtime-"), first, StringComparison.Ordinal);
            Assert.True(File.Exists(Path.Combine(first, "lifeguard_worker.py")));
            Assert.Equal(first, RuntimeDeployer.Deploy(root));
        }
        finally
        {
            Directory.Delete(root, recursive: true);
        }
    }

    [Fact]
    public async Task ResolvingTheInterpreter_CompilesTheRuntimeForIt_EvenWherePythonWritesNoBytecode()
    {
        // This machine's tests may run with PYTHONDONTWRITEBYTECODE=1; a worker then never writes its own cache.
        string interpreter = await InterpreterResolver.ResolveAsync(InterpreterResolver.Requested(null));
        var tag = await RunAsync(interpreter, "import sys; sys.stdout.write(sys.implementation.cache_tag)");
        var cache = Path.Combine(RuntimeDeployer.RuntimeDirectory, "lifeguard", "__pycache__");

        foreach (var module in Directory.EnumerateFiles(Path.Combine(RuntimeDeployer.RuntimeDirectory, "lifeguard"), "*.py"))
        {
            Assert.True(
                File.Exists(Path.Combine(cache, $"{Path.GetFileNameWithoutExtension(module)}.{tag}.pyc")),
                $"{module} has no bytecode for {tag} in {cache}");
        }
    }

    private static async Task<string> RunAsync(string interpreter, string code)
    {
        var info = new System.Diagnostics.ProcessStartInfo(interpreter) { RedirectStandardOutput = true, UseShellExecute = false };
        info.ArgumentList.Add("-c");
        info.ArgumentList.Add(code);
        using var process = System.Diagnostics.Process.Start(info)!;
        string output = await process.StandardOutput.ReadToEndAsync();
        await process.WaitForExitAsync().WaitAsync(TimeSpan.FromSeconds(30));
        return output;
    }
}
