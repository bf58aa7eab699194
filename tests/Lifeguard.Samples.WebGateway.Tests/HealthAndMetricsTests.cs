using System.Net;

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
    public async Task Metrics_are_prometheus_text_with_the_pool_live_and_one_checkout_per_request()
    {
        var before = await PrometheusText.ScrapeAsync(gateway.Client);
        Assert.Equal(2, before.Pool("lifeguard_pool_worker_starts_total"));
        Assert.Equal(2, before.Pool("lifeguard_pool_workers_idle"));
        Assert.Equal(0, before.Pool("lifeguard_pool_workers_busy"));
        Assert.Equal(0, before.Pool("lifeguard_pool_waiters"));

        for (var i = 0; i < 3; i++)
        {
            using var response = await Batches.PostAsync(gateway.Client, Batches.Small());
            Assert.Equal(HttpStatusCode.OK, response.StatusCode);
        }

        var after = await PrometheusText.ScrapeAsync(gateway.Client);
        Assert.Equal(before.PoolCounter("lifeguard_pool_checkouts_total") + 3, after.Pool("lifeguard_pool_checkouts_total"));
        Assert.Equal("counter", after.Types["lifeguard_pool_checkouts_total"]);
        Assert.Equal("gauge", after.Types["lifeguard_pool_workers_idle"]);
        Assert.Equal(2, after.Pool("lifeguard_pool_workers_idle") + after.Pool("lifeguard_pool_workers_busy"));

        // The histograms in seconds, in the buckets the gateway gives them: every checkout waited, every lease lasted.
        Assert.Equal("histogram", after.Types["lifeguard_pool_checkout_wait_seconds"]);
        var waits = after.Pool("lifeguard_pool_checkout_wait_seconds_count");
        Assert.Equal(before.PoolCounter("lifeguard_pool_checkout_wait_seconds_count") + 3, waits);
        Assert.Equal(waits, after.Pool("lifeguard_pool_checkout_wait_seconds_bucket", ("le", "+Inf")));
        Assert.Equal(waits, after.Pool("lifeguard_pool_checkout_wait_seconds_bucket", ("le", "30")));
        Assert.Single(after.Find("lifeguard_pool_checkout_wait_seconds_bucket", ("lifeguard_pool_name", "stacking"), ("le", "0.001")));
        Assert.Equal(after.Pool("lifeguard_pool_checkouts_total"), after.Pool("lifeguard_pool_lease_duration_seconds_count"));
        var leased = after.Pool("lifeguard_pool_lease_duration_seconds_sum");
        Assert.InRange(leased, double.Epsilon, 3 * 30); // each plan took some time, and less than the fixture's checkout timeout

        // ASP.NET Core's request metrics, by route and status code. They are recorded once the response has gone, so a
        // scrape right after the third response may not count it yet.
        await PrometheusText.ScrapeUntilAsync(
            gateway.Client,
            m => m.Find("http_server_request_duration_seconds_count", ("http_route", "/stack"), ("http_response_status_code", "200")).Sum(s => s.Value) >= 3,
            "three POST /stack requests counted with status 200");
    }

    [Fact]
    public async Task Metrics_ask_for_in_openmetrics_are_served_in_it()
    {
        using var request = new HttpRequestMessage(HttpMethod.Get, new Uri("/metrics", UriKind.Relative));
        request.Headers.Accept.ParseAdd("application/openmetrics-text; version=1.0.0");

        using var response = await gateway.Client.SendAsync(request);

        Assert.Equal(HttpStatusCode.OK, response.StatusCode);
        Assert.Equal("application/openmetrics-text", response.Content.Headers.ContentType?.MediaType);
        var text = await response.Content.ReadAsStringAsync();
        Assert.Contains("lifeguard_pool_workers_idle{", text, StringComparison.Ordinal);
        Assert.EndsWith("# EOF\n", text, StringComparison.Ordinal);
    }

    [Fact]
    public async Task Each_gateway_reports_its_own_pool_only()
    {
        // A second gateway in the same process, its pool also named "stacking": neither scrape counts the other's workers.
        await using var other = new GatewayFactory(settings: new Dictionary<string, string?> { [GatewayFactory.Pool + "Size"] = "1" });
        using var client = other.CreateClient();
        using (var response = await Batches.PostAsync(client, Batches.Small()))
        {
            Assert.Equal(HttpStatusCode.OK, response.StatusCode);
        }

        var mine = await PrometheusText.ScrapeAsync(gateway.Client);
        var its = await PrometheusText.ScrapeAsync(client);

        Assert.Equal(2, mine.Pool("lifeguard_pool_worker_starts_total"));
        Assert.Equal(2, mine.Pool("lifeguard_pool_workers_idle") + mine.Pool("lifeguard_pool_workers_busy"));
        Assert.Equal(1, its.Pool("lifeguard_pool_worker_starts_total"));
        Assert.Equal(1, its.Pool("lifeguard_pool_workers_idle"));
        Assert.Equal(1, its.Pool("lifeguard_pool_checkouts_total"));
    }
}
