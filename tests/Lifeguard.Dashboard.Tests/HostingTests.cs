using System.Net;
using System.Text.Json;
using Lifeguard.Testing;
using Microsoft.Extensions.Configuration;
using Microsoft.Extensions.DependencyInjection;

namespace Lifeguard.Dashboard.Tests;

/// <summary>The dashboard over pools of <c>AddLifeguard()</c>: the registry from DI, and a resize that a reload overwrites.</summary>
public sealed class HostingTests
{
    [Fact]
    public async Task Resize_FromTheDashboard_LastsUntilTheNextConfigurationReload_TheLogShowsBoth()
    {
        const string Key = "Lifeguard:Pools:configured:Size";
        await using var server = await DashboardServer.StartAsync(
            options: new DashboardOptions { AllowActions = true, ActionToken = "t" },
            configure: builder =>
            {
                builder.Configuration.AddInMemoryCollection(new Dictionary<string, string?> { [Key] = "2" });
                builder.Services.AddLifeguard().AddPool("configured", _ => new FakeWorkerFactory());
            });
        var pool = server.Registry.Get<FakeWorker>("configured");
        Assert.Equal(2, pool.GetStatus().Size);

        using var resize = await ActionTests.PostAsync(server, "api/pools/configured/resize", "t", """{"size": 4, "maxOverflow": 0}""");
        Assert.Equal(HttpStatusCode.OK, resize.StatusCode);
        Assert.Equal(4, pool.GetStatus().Size);

        var configuration = (IConfigurationRoot)server.App.Services.GetRequiredService<IConfiguration>();
        configuration[Key] = "1";
        configuration.Reload();
        await TestPools.WaitUntilAsync(() => pool.GetStatus().Size == 1, "the reload resizes the pool");

        // The log is fed from the registry's events on the dashboard's own reader: poll it, bounded.
        var deadline = DateTime.UtcNow.AddSeconds(30);
        List<string?> sources;
        while ((sources = await ResizedSources(server)).Count < 2 && DateTime.UtcNow < deadline)
        {
            await Task.Delay(20);
        }

        Assert.Equal(["dashboard", "configuration"], sources);
    }

    private static async Task<List<string?>> ResizedSources(DashboardServer server)
    {
        var log = JsonDocument.Parse(await server.Client.GetStringAsync(new Uri("api/events", UriKind.Relative))).RootElement;
        return [.. log.EnumerateArray()
            .Where(e => e.GetProperty("kind").GetString() == "Resized" && e.GetProperty("pool").GetString() == "configured")
            .Select(e => e.GetProperty("source").GetString())];
    }
}
