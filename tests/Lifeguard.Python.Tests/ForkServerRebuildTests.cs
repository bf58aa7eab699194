using Lifeguard.Testing;

namespace Lifeguard.Python.Tests;

/// <summary>
/// <see cref="ForkServer.RebuildAsync"/> on real python3: a module file edited on disk between rebuilds, workers forked
/// afterwards on the new code, those forked before kept and still supervised, and a failed rebuild that changes nothing.
/// </summary>
public sealed class ForkServerRebuildTests : PythonTestBase, IDisposable
{
    private const string Module = "rebuilt_module";
    private readonly DirectoryInfo _folder = Directory.CreateTempSubdirectory("lifeguard-rebuild-");

    public void Dispose() => _folder.Delete(recursive: true);

    [Fact]
    public async Task Rebuild_LaterForksRunTheNewModule_AndTheOldTemplateServesItsWorkersUntilTheLastExits()
    {
        WriteModule("\"first\"");
        await using var pool = await PythonPool.StartAsync(RebuildOptions("rebuild-swap"));
        int first = TemplatePid(pool);
        await using var old = await pool.CheckoutAsync();
        Assert.Equal("first", await old.Worker.CallAsync<string>(Module, "generation"));

        WriteModule("\"second, longer\"");
        await pool.ForkServer!.RebuildAsync(CancellationToken.None);

        int second = TemplatePid(pool);
        Assert.NotEqual(first, second);
        Assert.Equal([first], pool.ForkServer.RetiredTemplateIds);
        Assert.True(ProcessExists(first));
        Assert.Equal("first", await old.Worker.CallAsync<string>(Module, "generation"));
        Assert.Equal(first, await old.Worker.CallAsync<int>("forking", "parent"));

        await using (var fresh = await pool.CheckoutAsync())
        {
            Assert.True(fresh.Worker.IsForked);
            Assert.Equal(second, await fresh.Worker.CallAsync<int>("forking", "parent"));
            Assert.Equal(second, await fresh.Worker.CallAsync<int>(Module, "imported_in"));
            Assert.Equal("second, longer", await fresh.Worker.CallAsync<string>(Module, "generation"));
        }

        // The old template still reaps its worker and reports how it ended; then, drained, it stops.
        var crash = await Assert.ThrowsAsync<PythonWorkerCrashedException>(() => old.Worker.CallAsync<int>("fixtures", "exit_hard", [5]));
        Assert.Equal(5, crash.ExitCode);
        await OldTemplateStoppedAsync(pool, first);
        Assert.Equal(second, TemplatePid(pool));
        Assert.Equal("second, longer", await pool.CallAsync<string>(Module, "generation"));
    }

    [Fact]
    public async Task Rebuild_OfAModuleThatNoLongerImports_ThrowsPythonsError_AndForksGoOnFromTheOldTemplate()
    {
        WriteModule("\"first\"");
        await using var pool = await PythonPool.StartAsync(RebuildOptions("rebuild-fail"));
        int first = TemplatePid(pool);

        File.WriteAllText(ModulePath, "def broken(:\n    pass\n");
        var error = await Assert.ThrowsAsync<PythonStartException>(() => pool.ForkServer!.RebuildAsync(CancellationToken.None));

        Assert.Equal("SyntaxError", error.PythonType);
        Assert.Contains(Module + ".py", error.PythonTraceback, StringComparison.Ordinal);
        Assert.Contains("SyntaxError", error.Message, StringComparison.Ordinal);
        Assert.Equal(first, TemplatePid(pool));
        Assert.Empty(pool.ForkServer!.RetiredTemplateIds);
        await using (var replaced = await CrashAndCheckOutTheReplacementAsync(pool))
        {
            Assert.True(replaced.Worker.IsForked);
            Assert.Equal(first, await replaced.Worker.CallAsync<int>("forking", "parent"));
            Assert.Equal("first", await replaced.Worker.CallAsync<string>(Module, "generation"));
        }

        // Fixed, it rebuilds.
        WriteModule("\"third, fixed\"");
        await pool.ForkServer.RebuildAsync(CancellationToken.None);
        int third = TemplatePid(pool);
        Assert.NotEqual(first, third);
        await using var later = await CrashAndCheckOutTheReplacementAsync(pool);
        Assert.Equal(third, await later.Worker.CallAsync<int>("forking", "parent"));
        Assert.Equal("third, fixed", await later.Worker.CallAsync<string>(Module, "generation"));
    }

    [Fact]
    public async Task Rebuild_OfAModuleThatNowStartsAThread_GivesUpForking_AndLaterWorkersAreSpawnedOnTheNewCode()
    {
        WriteModule("\"first\"");
        await using var pool = await PythonPool.StartAsync(RebuildOptions("rebuild-threads"));
        int first = TemplatePid(pool);
        await using var old = await pool.CheckoutAsync();

        WriteModule("\"threaded\"\nimport threading\nimport time\nthreading.Thread(target=time.sleep, args=(3600,), daemon=True).start()");
        await pool.ForkServer!.RebuildAsync(CancellationToken.None);

        Assert.True(pool.ForkServer.Disabled);
        Assert.Null(pool.ForkServer.TemplateProcessId);
        Assert.Contains(Logs.Entries, e => e.EventId.Id == 2011);
        Assert.Equal([first], pool.ForkServer.RetiredTemplateIds);
        Assert.Equal(first, await old.Worker.CallAsync<int>("forking", "parent"));
        await using (var spawned = await pool.CheckoutAsync())
        {
            Assert.False(spawned.Worker.IsForked);
            Assert.Equal("threaded", await spawned.Worker.CallAsync<string>(Module, "generation"));
        }

        await Assert.ThrowsAsync<PythonWorkerCrashedException>(() => old.Worker.CallAsync<int>("fixtures", "exit_hard", [5]));
        await OldTemplateStoppedAsync(pool, first);
    }

    [Fact]
    public async Task Dispose_StopsTheTemplateAndTheRetiredOneStillServingAWorker()
    {
        WriteModule("\"first\"");
        var pool = await PythonPool.StartAsync(RebuildOptions("rebuild-dispose"));
        int first = TemplatePid(pool);
        int worker;
        await using (var held = await pool.CheckoutAsync())
        {
            worker = held.Worker.ProcessId;
            await pool.ForkServer!.RebuildAsync(CancellationToken.None);
        }

        int second = TemplatePid(pool);
        Assert.Equal([first], pool.ForkServer!.RetiredTemplateIds);

        await pool.DisposeAsync();

        await FakeWorkerFactory.WaitUntilAsync(
            () => !ProcessExists(first) && !ProcessExists(second) && !ProcessExists(worker),
            "both templates and the worker are gone",
            timeoutMs: 30_000);
    }

    /// <summary>Crashes the pool's one worker and checks out the worker that replaced it.</summary>
    private static async Task<Lease<PythonWorker>> CrashAndCheckOutTheReplacementAsync(PythonPool pool)
    {
        int crashed;
        await using (var lease = await pool.CheckoutAsync())
        {
            crashed = lease.Worker.ProcessId;
            await Assert.ThrowsAsync<PythonWorkerCrashedException>(() => lease.Worker.CallAsync<int>("fixtures", "exit_hard", [3]));
        }

        var replacement = await pool.CheckoutAsync();
        Assert.NotEqual(crashed, replacement.Worker.ProcessId);
        return replacement;
    }

    private static Task OldTemplateStoppedAsync(PythonPool pool, int old)
        => FakeWorkerFactory.WaitUntilAsync(
            () => pool.ForkServer!.RetiredTemplateIds.Count == 0 && !ProcessExists(old),
            "the old template stops once its last worker has exited",
            timeoutMs: 30_000);

    private string ModulePath => Path.Combine(_folder.FullName, Module + ".py");

    private static int TemplatePid(PythonPool pool) => pool.ForkServer?.TemplateProcessId ?? throw new InvalidOperationException("no template is up");

    private PythonPoolOptions RebuildOptions(string name)
    {
        var options = Options(name, size: 1, maxOverflow: 1);
        options.StartMode = PythonStartMode.ForkServer;
        options.MaxRestarts = 100;
        options.ModulePaths.Add(_folder.FullName);
        options.Preload.Add(Module);
        options.Preload.Add("forking");
        options.Preload.Add("fixtures");

        // Every edit is read from its source, whatever its size and time stamp.
        options.Environment["PYTHONDONTWRITEBYTECODE"] = "1";
        return options;
    }

    private void WriteModule(string generation)
        => File.WriteAllText(ModulePath, $"import os\n\nGENERATION = {generation}\nIMPORTED_IN = os.getpid()\n\n\ndef generation():\n    return GENERATION\n\n\ndef imported_in():\n    return IMPORTED_IN\n");
}
