using Lifeguard.Testing;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Diagnostics.HealthChecks;
using Microsoft.Extensions.Hosting;

namespace Lifeguard.Hosting.Tests;

public sealed class HealthCheckTests : HostingTestBase
{
    private static readonly Dictionary<string, string?> OneWorker = new()
    {
        ["Lifeguard:Pools:squares:Size"] = "1",
        ["Lifeguard:Pools:squares:MaxOverflow"] = "0",
        ["Lifeguard:Pools:squares:CheckoutTimeout"] = "Infinite",
        ["Lifeguard:Pools:squares:MaxRestarts"] = "0",
    };

    private static void AddChecks(HostApplicationBuilder builder)
        => builder.Services.AddHealthChecks().AddLifeguardHealthChecks("ready").AddLifeguardHealthChecks();

    private static async Task<HealthReportEntry> CheckAsync(IHost host)
    {
        var report = await host.Services.GetRequiredService<HealthCheckService>().CheckHealthAsync();
        return Assert.Single(report.Entries, e => e.Key == "lifeguard:squares").Value;
    }

    [Fact]
    public async Task Healthy_then_degraded_when_full_with_a_waiter_then_unhealthy_when_stopped()
    {
        var factory = new FakeWorkerFactory();
        var host = BuildFake("squares", factory, OneWorker, AddChecks);
        var notStarted = await CheckAsync(host);
        Assert.Equal(HealthStatus.Unhealthy, notStarted.Status);

        await host.StartAsync();
        var pool = host.Services.GetRequiredKeyedService<Pool<FakeWorker>>("squares");

        var healthy = await CheckAsync(host);
        Assert.Equal(HealthStatus.Healthy, healthy.Status);
        Assert.Equal(["lifeguard", "ready"], healthy.Tags.Order(StringComparer.Ordinal));
        Assert.Equal("Ready", healthy.Data["state"]);
        Assert.Equal(1, healthy.Data["idle"]);

        var lease = await pool.CheckoutAsync();
        var full = await CheckAsync(host);
        Assert.Equal(HealthStatus.Degraded, full.Status);
        Assert.Equal(1, full.Data["busy"]);

        var waiter = pool.CheckoutAsync().AsTask();
        await FakeWorkerFactory.WaitUntilAsync(() => pool.GetStatus().Waiters == 1, "a caller waits");
        var waiting = await CheckAsync(host);
        Assert.Equal(HealthStatus.Degraded, waiting.Status);
        Assert.Equal(1, waiting.Data["waiters"]);

        lease.Dispose();
        (await waiter).Dispose();
        Assert.Equal(HealthStatus.Healthy, (await CheckAsync(host)).Status);

        await host.StopAsync();
        Assert.Equal(HealthStatus.Unhealthy, (await CheckAsync(host)).Status);
    }

    [Fact]
    public async Task Unhealthy_in_backoff_with_the_last_failure()
    {
        var factory = new FakeWorkerFactory { FailStart = attempt => attempt > 1 ? new InvalidOperationException("cannot start") : null };
        var host = BuildFake("squares", factory, OneWorker, AddChecks);
        await host.StartAsync();
        var pool = host.Services.GetRequiredKeyedService<Pool<FakeWorker>>("squares");

        Assert.Single(factory.All).Die();
        await FakeWorkerFactory.WaitUntilAsync(() => pool.GetStatus().State == PoolState.Backoff, "the pool backs off");

        var entry = await CheckAsync(host);
        Assert.Equal(HealthStatus.Unhealthy, entry.Status);
        Assert.Equal("Backoff", entry.Data["state"]);
        Assert.NotNull(entry.Exception);
    }
}
