using System.Net;
using System.Text.Json;
using Lifeguard.Testing;

namespace Lifeguard.Dashboard.Tests;

/// <summary>
/// A pool whose rows are hosts, as a remote pool (Lifeguard.RabbitMQ) lists itself: each row's <c>host</c> detail in
/// the snapshot, and the actions refused with 409 because only the hosts can size, recycle or kill.
/// </summary>
public sealed class HostRowsTests
{
    private const string Token = "s3cret-token-for-tests";

    [Fact]
    public async Task Snapshot_RowsThatAreHosts_CarryTheHostName_AndActionsAre409WithTheReason()
    {
        await using var server = await DashboardServer.StartAsync(options: new DashboardOptions { AllowActions = true, ActionToken = Token });
        var inner = await server.Registry.StartPoolAsync(new PoolOptions { Name = "inner", Size = 2 }, new FakeWorkerFactory());
        await using var remote = new HostRowsPool("remote", inner);
        server.Registry.Add(remote);

        using var response = await server.Client.GetAsync(new Uri("api/snapshot", UriKind.Relative));
        var pools = JsonDocument.Parse(await response.Content.ReadAsStringAsync()).RootElement.GetProperty("pools").EnumerateArray().ToList();
        var rows = pools.Single(p => p.GetProperty("name").GetString() == "remote").GetProperty("workers").EnumerateArray().ToList();

        Assert.Equal(["host-0", "host-1"], rows.Select(r => r.GetProperty("host").GetString()));
        Assert.All(pools.Single(p => p.GetProperty("name").GetString() == "inner").GetProperty("workers").EnumerateArray(), w => Assert.Equal(JsonValueKind.Null, w.GetProperty("host").ValueKind));

        var id = rows[0].GetProperty("id").GetInt32();
        using var kill = await ActionTests.PostAsync(server, $"api/pools/remote/workers/{id}/kill", Token);
        using var resize = await ActionTests.PostAsync(server, "api/pools/remote/resize", Token, """{"size": 4, "maxOverflow": 0}""");
        using var recycle = await ActionTests.PostAsync(server, "api/pools/remote/recycle", Token);
        foreach (var refused in new[] { kill, resize, recycle })
        {
            Assert.Equal(HttpStatusCode.Conflict, refused.StatusCode);
            Assert.Contains("only its hosts", await refused.Content.ReadAsStringAsync(), StringComparison.Ordinal);
        }

        Assert.Equal(2, inner.GetStatus().Size);
        Assert.Equal(0, inner.GetStatus().TotalRestarts);
    }
}
