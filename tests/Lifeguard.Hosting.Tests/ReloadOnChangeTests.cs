using Lifeguard.Hosting.Internal;
using Lifeguard.Python;
using Lifeguard.Testing;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Logging;
using Microsoft.Extensions.Logging.Abstractions;
using Microsoft.Extensions.Time.Testing;

namespace Lifeguard.Hosting.Tests;

/// <summary>ReloadOnChange: saved <c>.py</c> files reload the pool once they are quiet; failures never reach the host.</summary>
public sealed class ReloadOnChangeTests : HostingTestBase
{
    private static readonly TimeSpan Debounce = TimeSpan.FromMilliseconds(300);

    [Fact]
    public void Debounce_ABurstOfSaves_ReloadsOnceAfterTheFilesAreQuiet()
    {
        var time = new FakeTimeProvider();
        int reloads = 0;
        using var watcher = new PythonReloadWatcher("py", _ => { reloads++; return Task.CompletedTask; }, Debounce, time, NullLogger.Instance);

        for (int i = 0; i < 5; i++)
        {
            watcher.OnChanged("/app/model.py");
            time.Advance(TimeSpan.FromMilliseconds(200)); // each save within the debounce of the one before
        }

        Assert.Equal(0, reloads);
        time.Advance(TimeSpan.FromMilliseconds(100));
        Assert.Equal(1, reloads);
        time.Advance(TimeSpan.FromSeconds(10));
        Assert.Equal(1, reloads); // nothing changed since
        Assert.Equal(1, watcher.Reloads);
    }

    [Fact]
    public async Task Debounce_SavedDuringAReload_ReloadsOnceMoreAfterIt()
    {
        var time = new FakeTimeProvider();
        var running = new TaskCompletionSource();
        int reloads = 0;
        using var watcher = new PythonReloadWatcher(
            "py", _ => { reloads++; return reloads == 1 ? running.Task : Task.CompletedTask; }, Debounce, time, NullLogger.Instance);
        watcher.OnChanged("/app/a.py");
        time.Advance(Debounce);
        Assert.Equal(1, reloads);

        watcher.OnChanged("/app/a.py");
        watcher.OnChanged("/app/b.py");
        time.Advance(Debounce * 4);
        Assert.Equal(1, reloads); // not while the first one runs

        running.SetResult();
        await FakeWorkerFactory.WaitUntilAsync(() => watcher.Reloads == 1, "the first reload ends");
        Assert.Equal(1, reloads);
        time.Advance(Debounce);
        Assert.Equal(2, reloads);
        time.Advance(Debounce * 4);
        Assert.Equal(2, reloads);
    }

    [Fact]
    public void Reload_Fails_IsLoggedAndTheNextSaveTriesAgain()
    {
        var time = new FakeTimeProvider();
        var logs = new RecordingLoggerProvider();
        int reloads = 0;
        using var watcher = new PythonReloadWatcher(
            "py",
            _ => ++reloads == 1 ? Task.FromException(new PythonReloadException("SyntaxError: invalid syntax")) : Task.CompletedTask,
            Debounce,
            time,
            logs.CreateFactory().CreateLogger("Lifeguard.Hosting"));

        watcher.OnChanged("/app/a.py");
        time.Advance(Debounce);

        Assert.Equal(1, watcher.Reloads);
        Assert.Contains(logs.Entries, e => e.Exception is PythonReloadException);
        watcher.OnChanged("/app/a.py");
        time.Advance(Debounce);
        Assert.Equal(2, reloads);
    }

    [Fact]
    public void Disposed_ChangesReloadNothing()
    {
        var time = new FakeTimeProvider();
        int reloads = 0;
        var watcher = new PythonReloadWatcher("py", _ => { reloads++; return Task.CompletedTask; }, Debounce, time, NullLogger.Instance);
        watcher.OnChanged("/app/a.py");

        watcher.Dispose();
        time.Advance(Debounce * 2);
        watcher.OnChanged("/app/a.py");
        time.Advance(Debounce * 2);

        Assert.Equal(0, reloads);
    }

    [Fact]
    public void ReloadOnChange_NoSuchPythonPool_Throws()
    {
        var services = new ServiceCollection();
        var lifeguard = services.AddLifeguard().AddPool("fake", _ => new FakeWorkerFactory());

        Assert.Throws<InvalidOperationException>(() => lifeguard.ReloadOnChange("py"));
        Assert.Throws<InvalidOperationException>(() => lifeguard.ReloadOnChange("fake"));
        lifeguard.AddPythonPool("py");
        Assert.Throws<ArgumentOutOfRangeException>(() => lifeguard.ReloadOnChange("py", TimeSpan.Zero));
    }

    [Fact]
    public async Task ReloadOnChange_ARealFileSaved_TheNextCallsRunTheNewCode()
    {
        var folder = Directory.CreateTempSubdirectory("lifeguard-watch-").FullName;
        try
        {
            var logs = new RecordingLoggerProvider();
            var module = Path.Combine(folder, "watched.py");
            File.WriteAllText(module, "def version():\n    return 1\n");
            var host = Build(
                new Dictionary<string, string?>
                {
                    ["Lifeguard:Pools:py:Size"] = "1",
                    ["Lifeguard:Pools:py:ModulePaths:0"] = folder,
                    ["Lifeguard:Pools:py:Preload:0"] = "watched",
                },
                lifeguard => lifeguard.AddPythonPool("py").ReloadOnChange("py", TimeSpan.FromMilliseconds(100)),
                builder => builder.Logging.AddProvider(logs));
            using var timeout = new CancellationTokenSource(Bound);
            await host.StartAsync(timeout.Token);
            var py = host.Services.GetRequiredKeyedService<PythonPool>("py");
            Assert.Equal(1, await py.CallAsync<int>("watched", "version", cancellationToken: timeout.Token));

            File.WriteAllText(module, "def version():\n    return 2  # saved\n");

            await FakeWorkerFactory.WaitUntilAsync(() => py.GetStatus().Generation == 2, "the pool reloads", 30_000);
            Assert.Equal(2, await py.CallAsync<int>("watched", "version", cancellationToken: timeout.Token));

            // A broken save is rolled back and logged: the host goes on, and the code it had answers.
            File.WriteAllText(module, "def version(:\n");
            await FakeWorkerFactory.WaitUntilAsync(
                () => logs.Entries.Any(e => e.Exception is PythonReloadException { PythonType: "SyntaxError" }), "the failed reload is logged", 30_000);
            Assert.Equal(2, await py.CallAsync<int>("watched", "version", cancellationToken: timeout.Token));
            Assert.Equal(2, py.GetStatus().Generation);
            await host.StopAsync(timeout.Token);
        }
        finally
        {
            Directory.Delete(folder, recursive: true);
        }
    }
}
