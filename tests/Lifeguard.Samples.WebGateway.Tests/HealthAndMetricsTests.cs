using System.Net;
using System.Text.Json;

namespace Lifeguard.Samples.WebGateway.Tests;

public sealed class HealthAndMetricsTests(GatewayFixture gateway) : IClassFixture<GatewayFixture>
{
    [Fact]
    public async Task Health_reports_healthy_with_the_pool_counts()
    {
        using var response = await gateway.Client.GetAsync(new Uri("/health", UriKind.Relative));

        Assert.Equal(HttpStatusCode.OK, response.StatusCode);
        var report = await Batches.ReadJsonAsync(response);
        Assert.Equal("Healthy", report.GetProperty("status").GetString());
        var check = Assert.Single(report.GetProperty("checks").EnumerateArray());
        Assert.Equal("lifeguard:stacking", check.GetProperty("name").GetString());
        Assert.Equal("Healthy", check.GetProperty("status").GetString());
        Assert.Equal(["lifeguard", "ready"], check.GetProperty("tags").EnumerateArray().Select(t => t.GetString()));
        var data = check.GetProperty("data");
        Assert.Equal("Ready", data.GetProperty("state").GetString());
        Assert.Equal(2, data.GetProperty("size").GetInt32()); // appsettings.json
        Assert.Equal(2, data.GetProperty("maxOverflow").GetInt32());
    }

    [Fact]
    public async Task Metrics_show_the_pool_live_and_count_one_checkout_per_request()
    {
        var before = await ReadAsync();
        Assert.Equal(2, Value(before, "lifeguard.pool.worker.starts"));
        Assert.Equal(2, Series(before, "lifeguard.pool.workers.idle").GetProperty("value").GetDouble());
        Assert.Equal(0, Series(before, "lifeguard.pool.workers.busy").GetProperty("value").GetDouble());

        for (var i = 0; i < 3; i++)
        {
            using var response = await Batches.PostAsync(gateway.Client, Batches.Small());
            Assert.Equal(HttpStatusCode.OK, response.StatusCode);
        }

        var after = await ReadAsync();
        Assert.Equal(Value(before, "lifeguard.pool.checkouts") + 3, Value(after, "lifeguard.pool.checkouts"));
        var wait = Series(after, "lifeguard.pool.checkout.wait");
        Assert.Equal("histogram", wait.GetProperty("kind").GetString());
        Assert.Equal("s", wait.GetProperty("unit").GetString());
        Assert.True(wait.GetProperty("count").GetInt64() >= 3);
        Assert.True(Series(after, "lifeguard.pool.lease.duration").GetProperty("max").GetDouble() > 0);
        Assert.Equal("gauge", Series(after, "lifeguard.pool.workers.idle").GetProperty("kind").GetString());
    }

    private async Task<JsonElement> ReadAsync()
    {
        using var response = await gateway.Client.GetAsync(new Uri("/metrics", UriKind.Relative));
        Assert.Equal(HttpStatusCode.OK, response.StatusCode);
        var snapshot = await Batches.ReadJsonAsync(response);
        Assert.Equal("Lifeguard", snapshot.GetProperty("meter").GetString());
        return snapshot;
    }

    private static JsonElement Series(JsonElement snapshot, string name)
        => Assert.Single(
            snapshot.GetProperty("metrics").EnumerateArray(),
            m => m.GetProperty("name").GetString() == name
                && m.GetProperty("tags").GetProperty("lifeguard.pool.name").GetString() == "stacking");

    /// <summary>A counter's total or a gauge's value; 0 for a counter that has counted nothing yet, so has no series.</summary>
    private static double Value(JsonElement snapshot, string name)
        => snapshot.GetProperty("metrics").EnumerateArray().Any(m => m.GetProperty("name").GetString() == name)
            ? Series(snapshot, name).GetProperty("value").GetDouble()
            : 0;
}
