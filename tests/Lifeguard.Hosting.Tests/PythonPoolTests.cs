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
}
