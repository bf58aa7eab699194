using System.Net;
using System.Text.Json;

namespace Lifeguard.Samples.WebGateway.Tests;

/// <summary>The dashboard the gateway mounts at /lifeguard: the stacking pool live, and no actions.</summary>
public sealed class DashboardTests(GatewayFixture gateway) : IClassFixture<GatewayFixture>
{
    [Fact]
    public async Task Snapshot_ListsTheStackingPoolAndItsWorkers()
    {
        using var response = await gateway.Client.GetAsync(new Uri("/lifeguard/api/snapshot", UriKind.Relative));

        Assert.Equal(HttpStatusCode.OK, response.StatusCode);
        var snapshot = JsonDocument.Parse(await response.Content.ReadAsStringAsync()).RootElement;
        Assert.False(snapshot.GetProperty("actions").GetBoolean());
        var pool = Assert.Single(snapshot.GetProperty("pools").EnumerateArray());
        Assert.Equal("stacking", pool.GetProperty("name").GetString());
        Assert.Equal(2, pool.GetProperty("size").GetInt32()); // appsettings.json
        var pids = gateway.Factory.Optimizer.GetStatus().Workers.Select(w => w.ProcessId).ToList();
        Assert.Equal(pids, pool.GetProperty("workers").EnumerateArray().Select(w => (int?)w.GetProperty("pid").GetInt32()));
    }

    [Fact]
    public async Task Page_IsServed()
    {
        using var response = await gateway.Client.GetAsync(new Uri("/lifeguard/", UriKind.Relative));

        Assert.Equal(HttpStatusCode.OK, response.StatusCode);
        Assert.Equal("text/html", response.Content.Headers.ContentType?.MediaType);
        Assert.StartsWith("default-src 'self'", response.Headers.GetValues("Content-Security-Policy").Single(), StringComparison.Ordinal);
    }

    [Theory]
    [InlineData("/lifeguard/api/pools/stacking/workers/1/kill")]
    [InlineData("/lifeguard/api/pools/stacking/resize")]
    [InlineData("/lifeguard/api/pools/stacking/recycle")]
    public async Task Actions_AreNotMapped_404(string path)
    {
        using var request = new HttpRequestMessage(HttpMethod.Post, path) { Content = new StringContent("""{"size": 4, "maxOverflow": 0}""") };
        request.Headers.Add("X-Lifeguard-Token", "anything");

        using var response = await gateway.Client.SendAsync(request);

        Assert.Equal(HttpStatusCode.NotFound, response.StatusCode);
        Assert.Equal(2, gateway.Factory.Optimizer.GetStatus().Size);
    }
}
