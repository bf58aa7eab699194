using Lifeguard.Python;
using Microsoft.Extensions.DependencyInjection;

namespace Lifeguard.Hosting.Tests;

public sealed class PythonPoolTests : HostingTestBase
{
    [Fact]
    public async Task A_python_pool_starts_with_the_host_and_leaves_no_process_when_it_stops()
    {
        var host = Build(
            new Dictionary<string, string?>
            {
                ["Lifeguard:Pools:py:Size"] = "2",
                ["Lifeguard:Pools:py:ModulePaths:0"] = Path.Combine(AppContext.BaseDirectory, "python"),
                ["Lifeguard:Pools:py:Preload:0"] = "hosting_fixture",
            },
            lifeguard => lifeguard.AddPythonPool("py", o => o.MaxRetries = 1));
        using var timeout = new CancellationTokenSource(Bound);
        await host.StartAsync(timeout.Token);

        var py = host.Services.GetRequiredKeyedService<PythonPool>("py");
        Assert.Same(py, host.Services.GetRequiredKeyedService<IPool>("py"));
        Assert.Equal(49, await py.CallAsync<int>("hosting_fixture", "square", [7], cancellationToken: timeout.Token));
        var first = await py.CheckoutAsync(timeout.Token);
        var second = await py.CheckoutAsync(timeout.Token);
        int[] pids = [first.Worker.ProcessId, second.Worker.ProcessId];
        Assert.All(pids, pid => Assert.True(Directory.Exists($"/proc/{pid}")));
        first.Dispose();
        second.Dispose();

        await host.StopAsync(timeout.Token);

        Assert.Equal(PoolState.Stopped, py.GetStatus().State);
        await Testing.FakeWorkerFactory.WaitUntilAsync(
            () => !pids.Any(pid => Directory.Exists($"/proc/{pid}")), "every python process is gone");
    }

    [Fact]
    public async Task Relative_module_paths_in_configuration_mean_the_content_root()
    {
        // The test's current directory is its output folder; the module lives in python/ below it, the content root.
        var root = Path.Combine(AppContext.BaseDirectory, "python");
        Assert.False(File.Exists(Path.Combine(Environment.CurrentDirectory, "hosting_fixture.py")));
        var host = Build(
            new Dictionary<string, string?> { ["Lifeguard:Pools:py:Size"] = "1", ["Lifeguard:Pools:py:ModulePaths:0"] = "." },
            lifeguard => lifeguard.AddPythonPool("py"),
            builder => builder.Environment.ContentRootPath = root);
        using var timeout = new CancellationTokenSource(Bound);
        await host.StartAsync(timeout.Token);

        var py = host.Services.GetRequiredKeyedService<PythonPool>("py");
        Assert.Equal(64, await py.CallAsync<int>("hosting_fixture", "square", [8], cancellationToken: timeout.Token));
        Assert.Equal(
            Path.GetFullPath(root),
            host.Services.GetRequiredService<Microsoft.Extensions.Options.IOptionsMonitor<PythonPoolOptions>>().Get("py").ModulePaths.Single());
        await host.StopAsync(timeout.Token);
    }

    [Fact]
    public async Task Module_files_and_appended_paths_bind_from_configuration_relative_to_the_content_root()
    {
        var root = Path.Combine(AppContext.BaseDirectory, "python");
        var host = Build(
            new Dictionary<string, string?>
            {
                ["Lifeguard:Pools:py:Size"] = "1",
                ["Lifeguard:Pools:py:ModuleFiles:fixture_by_path"] = "hosting_fixture.py",
                ["Lifeguard:Pools:py:AppendedModulePaths:0"] = ".",
            },
            lifeguard => lifeguard.AddPythonPool("py"),
            builder => builder.Environment.ContentRootPath = root);
        using var timeout = new CancellationTokenSource(Bound);
        await host.StartAsync(timeout.Token);

        var py = host.Services.GetRequiredKeyedService<PythonPool>("py");
        Assert.Equal(81, await py.CallAsync<int>("fixture_by_path", "square", [9], cancellationToken: timeout.Token));
        var options = host.Services.GetRequiredService<Microsoft.Extensions.Options.IOptionsMonitor<PythonPoolOptions>>().Get("py");
        Assert.Equal(Path.Combine(Path.GetFullPath(root), "hosting_fixture.py"), options.ModuleFiles["fixture_by_path"]);
        Assert.Equal(Path.GetFullPath(root), options.AppendedModulePaths.Single());
        await host.StopAsync(timeout.Token);
    }

    [Fact]
    public void A_virtual_environment_binds_from_configuration_relative_to_the_content_root()
    {
        var root = Path.Combine(AppContext.BaseDirectory, "python");
        var host = Build(
            new Dictionary<string, string?> { ["Lifeguard:Pools:py:Size"] = "1", ["Lifeguard:Pools:py:VirtualEnvironment"] = "venvs/app" },
            lifeguard => lifeguard.AddPythonPool("py"),
            builder => builder.Environment.ContentRootPath = root);

        var options = host.Services.GetRequiredService<Microsoft.Extensions.Options.IOptionsMonitor<PythonPoolOptions>>().Get("py");

        Assert.Equal(Path.Combine(Path.GetFullPath(root), "venvs", "app"), options.VirtualEnvironment);
        Assert.Null(options.PythonPath);
    }

    [Fact]
    public async Task A_virtual_environment_and_a_python_path_together_fail_the_host_start_naming_both()
    {
        var host = Build(
            new Dictionary<string, string?>
            {
                ["Lifeguard:Pools:py:Size"] = "1",
                ["Lifeguard:Pools:py:VirtualEnvironment"] = "/srv/venv",
                ["Lifeguard:Pools:py:PythonPath"] = "/usr/bin/python3",
            },
            lifeguard => lifeguard.AddPythonPool("py"));

        var error = await Assert.ThrowsAsync<Microsoft.Extensions.Options.OptionsValidationException>(() => host.StartAsync());

        Assert.Contains("'py'", error.Message, StringComparison.Ordinal);
        Assert.Contains("VirtualEnvironment and PythonPath are both set", error.Message, StringComparison.Ordinal);
    }
}
