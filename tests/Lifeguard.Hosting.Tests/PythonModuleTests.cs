using Lifeguard.Python;
using Lifeguard.Testing;
using Microsoft.Extensions.DependencyInjection;

namespace Lifeguard.Hosting.Tests;

public sealed class PythonModuleTests : HostingTestBase
{
    [Fact]
    public async Task A_python_module_is_a_singleton_and_keyed_by_its_pool_built_on_the_pools_caller()
    {
        var host = Build(
            new Dictionary<string, string?>
            {
                ["Lifeguard:Pools:py:Size"] = "1",
                ["Lifeguard:Pools:py:ModulePaths:0"] = Path.Combine(AppContext.BaseDirectory, "python"),
            },
            lifeguard => lifeguard.AddPythonPool("py").AddPythonModule<IHostingFixture, HostingFixture>("py"),
            builder => builder.Services.AddSingleton(TimeProvider.System));
        using var timeout = new CancellationTokenSource(Bound);
        await host.StartAsync(timeout.Token);

        var fixture = host.Services.GetRequiredService<IHostingFixture>();

        Assert.Same(fixture, host.Services.GetRequiredKeyedService<IHostingFixture>("py"));
        Assert.Same(fixture, host.Services.GetRequiredService<IHostingFixture>());
        var pool = host.Services.GetRequiredKeyedService<PythonPool>("py");
        Assert.Same(pool, host.Services.GetRequiredKeyedService<IPythonCaller>("py"));
        Assert.Same(pool, ((HostingFixture)fixture).Caller);
        Assert.Same(TimeProvider.System, ((HostingFixture)fixture).Clock);
        Assert.Equal(36, await fixture.SquareAsync(6, timeout.Token));
        await host.StopAsync(timeout.Token);
    }

    [Fact]
    public void A_python_module_needs_its_python_pool_added_first()
    {
        var missing = Assert.Throws<InvalidOperationException>(() => Build(
            new Dictionary<string, string?>(),
            lifeguard => lifeguard.AddPythonModule<IHostingFixture, HostingFixture>("py")));
        var notPython = Assert.Throws<InvalidOperationException>(() => Build(
            new Dictionary<string, string?>(),
            lifeguard => lifeguard.AddPool("py", _ => new FakeWorkerFactory()).AddPythonModule<IHostingFixture, HostingFixture>("py")));

        Assert.All([missing, notPython], e => Assert.Contains("No Python pool named 'py' was added: call AddPythonPool(\"py\")", e.Message, StringComparison.Ordinal));
    }

    public interface IHostingFixture
    {
        Task<long> SquareAsync(long x, CancellationToken cancellationToken = default);
    }

    /// <summary>What the build's generated bindings look like to the host: a constructor taking the pool's caller (and here one more service).</summary>
    public sealed class HostingFixture(IPythonCaller caller, TimeProvider clock) : IHostingFixture
    {
        public IPythonCaller Caller => caller;

        public TimeProvider Clock => clock;

        public Task<long> SquareAsync(long x, CancellationToken cancellationToken = default)
            => caller.CallAsync<long>("hosting_fixture", "square", [x], cancellationToken: cancellationToken);
    }
}
