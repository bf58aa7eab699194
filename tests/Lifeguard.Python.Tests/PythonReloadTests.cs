namespace Lifeguard.Python.Tests;

/// <summary>
/// <see cref="PythonPool.ReloadAsync(CancellationToken)"/> on real python3: a module file edited on disk reaches every
/// worker without a restart; a broken one is rolled back, and the old code keeps answering.
/// </summary>
public sealed class PythonReloadTests : PythonTestBase, IDisposable
{
    private readonly string _folder = Directory.CreateTempSubdirectory("lifeguard-reload-").FullName;

    public void Dispose() => Directory.Delete(_folder, recursive: true);

    [Theory]
    [InlineData(PythonStartMode.Spawn)]
    [InlineData(PythonStartMode.ForkServer)]
    public async Task ReloadAsync_ModuleEditedOnDisk_CallsReturnTheNewCodesResult(PythonStartMode mode)
    {
        WriteModule("def version():\n    return 1\n");
        await using var pool = await PythonPool.StartAsync(ReloadOptions($"reload-{mode}", mode));
        Assert.Equal(1, await pool.CallAsync<int>("reloadable", "version"));
        int? template = pool.ForkServer?.TemplateProcessId;
        Assert.Equal(1, pool.GetStatus().Generation);

        WriteModule("def version():\n    return 2  # the new code\n");
        await pool.ReloadAsync();

        for (int i = 0; i < 6; i++)
        {
            Assert.Equal(2, await pool.CallAsync<int>("reloadable", "version"));
        }

        var status = pool.GetStatus();
        Assert.Equal(2, status.Generation);
        Assert.Equal(2, status.Workers.Count);
        Assert.All(status.Workers, w => Assert.Equal(2, w.Generation));
        Assert.Equal([0, 1], status.Workers.Select(w => w.Slot).Order());
        if (mode == PythonStartMode.ForkServer)
        {
            Assert.NotNull(template);
            Assert.NotEqual(template, pool.ForkServer!.TemplateProcessId); // rebuilt from the current files
            await using var lease = await pool.CheckoutAsync();
            Assert.True(lease.Worker.IsForked);

            // The old template forks no more, and stops once the workers it forked have gone.
            await Lifeguard.Testing.FakeWorkerFactory.WaitUntilAsync(() => !ProcessExists(template.Value), "the old template stops", 30_000);
        }
    }

    [Theory]
    [InlineData(PythonStartMode.Spawn)]
    [InlineData(PythonStartMode.ForkServer)]
    public async Task ReloadAsync_SyntaxErrorOnDisk_ThrowsPythonReloadExceptionAndTheOldCodeStillAnswers(PythonStartMode mode)
    {
        WriteModule("def version():\n    return 1\n");
        await using var pool = await PythonPool.StartAsync(ReloadOptions($"reload-broken-{mode}", mode));
        var before = pool.GetStatus().Workers.Select(w => w.Id).ToList();
        int? template = pool.ForkServer?.TemplateProcessId;

        WriteModule("def version(:\n    return 2\n");
        var error = await Assert.ThrowsAsync<PythonReloadException>(() => pool.ReloadAsync());

        Assert.Equal("SyntaxError", error.PythonType);
        Assert.Contains("reloadable", error.PythonTraceback ?? error.Message, StringComparison.Ordinal);
        Assert.Equal(pool.Name, error.PoolName);
        Assert.Equal(1, await pool.CallAsync<int>("reloadable", "version"));
        var status = pool.GetStatus();
        Assert.Equal(1, status.Generation);
        Assert.Equal(before, status.Workers.Select(w => w.Id));
        Assert.Equal(template, pool.ForkServer?.TemplateProcessId); // the template there was still forks

        // Fixed: the next reload goes through.
        WriteModule("def version():\n    return 3  # fixed\n");
        await pool.ReloadAsync();
        Assert.Equal(3, await pool.CallAsync<int>("reloadable", "version"));
        Assert.Equal(2, pool.GetStatus().Generation);
    }

    [Fact]
    public async Task ReloadAsync_ImportErrorOnDisk_CarriesPythonsError()
    {
        WriteModule("def version():\n    return 1\n");
        await using var pool = await PythonPool.StartAsync(ReloadOptions("reload-import", PythonStartMode.Spawn));

        WriteModule("import lifeguard_no_such_module\n\ndef version():\n    return 2\n");
        var error = await Assert.ThrowsAsync<PythonReloadException>(() => pool.ReloadAsync());

        Assert.Equal("ModuleNotFoundError", error.PythonType);
        Assert.Contains("lifeguard_no_such_module", error.PythonMessage, StringComparison.Ordinal);
        Assert.IsType<WorkerStartException>(error.InnerException);
        Assert.Equal(1, await pool.CallAsync<int>("reloadable", "version"));
    }

    private PythonPoolOptions ReloadOptions(string name, PythonStartMode mode)
    {
        var options = Options(name, size: 2);
        options.StartMode = mode;
        options.ModulePaths.Add(_folder);
        options.Preload.Add("reloadable"); // a start check: the canary must import it
        return options;
    }

    /// <summary>Rewrites the module; each version differs in length, so no cached bytecode is taken for it.</summary>
    private void WriteModule(string source) => File.WriteAllText(Path.Combine(_folder, "reloadable.py"), source);
}
